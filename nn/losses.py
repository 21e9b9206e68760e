"""Loss modules: thin wrappers holding the options of the loss functions in ``nn.functional``."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from . import functional as F
from .module import Module

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MultiMarginLoss",
    "NLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
]


def _buffer(value: Any) -> Tensor | None:
    """A loss option (class weights) as a constant tensor (lists take the default dtype,
    arrays keep theirs), or None."""
    if value is None:
        return None
    return Tensor(value.data if isinstance(value, Tensor) else value)


class _Loss(Module):
    _reductions: tuple[str, ...] = F._REDUCTIONS

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__, self._reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with per-class ``weight``, kept as a buffer (saved in the state dict)."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (see ``F.cross_entropy``).

    >>> import autograd_core as ag
    >>> loss = CrossEntropyLoss()(ag.zeros(4, 10), [0, 1, 2, 3])
    >>> round(loss.item(), 4)  # log(10)
    2.3026
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (see ``F.nll_loss``)."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Squared error (see ``F.mse_loss``)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Absolute error (see ``F.l1_loss``)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy, computed stably from logits (see
    ``F.binary_cross_entropy_with_logits``); ``pos_weight`` is a buffer too."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
                 ) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class MultiMarginLoss(_WeightedLoss):
    """Multiclass SVM hinge loss (see ``F.multi_margin_loss``)."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p}")
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                   self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities, logs clamped at −100 (see
    ``F.binary_cross_entropy``); ``weight`` is an elementwise buffer.

    >>> import autograd_core as ag
    >>> round(BCELoss()(ag.tensor([0.5]), ag.tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities from a target (see ``F.kl_div``); use
    ``reduction="batchmean"`` for the mathematical KL divergence."""

    _reductions = F._KL_REDUCTIONS

    def __init__(self, *, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class HuberLoss(_Loss):
    """Quadratic within ``delta`` of the target, linear beyond (see ``F.huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, self.reduction, self.delta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, delta={self.delta}"


class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta`` (see ``F.smooth_l1_loss``)."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, beta={self.beta}"


class SoftMarginLoss(_Loss):
    """Two-class logistic loss for ±1 targets (see ``F.soft_margin_loss``)."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.soft_margin_loss(input, target, reduction=self.reduction)
