"""`EarlyStopping`: stop when a validation metric stops improving; keep the best weights."""

from __future__ import annotations

import copy
import math
from typing import Any, Protocol

import numpy as np

from autograd_core import Tensor

__all__ = ["EarlyStopping"]


class _HasState(Protocol):
    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> Any: ...


class EarlyStopping:
    """Patience-based early stopping on a monitored metric (seed 002, J14, with its correction).

    Call ``step(metric, model)`` once per epoch with a *validation* metric; it returns True
    when training should stop: after ``patience`` consecutive epochs without improvement.
    Improvement means ``metric < best − min_delta`` (mode "min") or ``metric > best +
    min_delta`` (mode "max"); NaN never improves.  The seed's literal rule, stop at the
    first epoch that does not improve, is ``patience=1``; noisy mini-batch training makes
    such single-epoch plateaus common, hence the default of 10 (seed notes' correction).

    With ``restore_best_weights`` and a ``model`` (any object with ``state_dict()`` and
    ``load_state_dict()``, e.g. an ``nn.Module``), each improvement snapshots a copy of
    ``model.state_dict()``, and the model is rolled back to it when stopping; ``restore``
    does the same by hand, e.g. when the epoch budget runs out first.

    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.step(loss) for loss in [3.0, 2.0, 2.5, 2.1]]
    [False, False, False, True]
    >>> stopper.best, stopper.best_epoch
    (2.0, 1)
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, mode: str = "min",
                 restore_best_weights: bool = True) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an int >= 1, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1
        self.epoch = -1
        self.num_bad_epochs = 0
        self.should_stop = False
        self.best_state: Any = None

    def is_better(self, value: float) -> bool:
        """Whether ``value`` improves on the best so far by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, metric: float, model: _HasState | None = None) -> bool:
        """Record this epoch's metric; True when training should stop (weights restored)."""
        value = float(metric)
        self.epoch += 1
        if self.is_better(value):
            self.best, self.best_epoch, self.num_bad_epochs = value, self.epoch, 0
            if self.restore_best_weights and model is not None:
                self.best_state = _snapshot(model.state_dict())
        else:
            self.num_bad_epochs += 1
        self.should_stop = self.num_bad_epochs >= self.patience
        if self.should_stop and self.restore_best_weights and model is not None:
            self.restore(model)
        return self.should_stop

    def restore(self, model: _HasState) -> None:
        """Load the best snapshot into ``model`` (raises if none was taken)."""
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no snapshot was taken; pass the model "
                               "to step() with restore_best_weights=True")
        model.load_state_dict(_snapshot(self.best_state))


def _snapshot(state: Any) -> Any:
    """A copy of a state dict sharing no memory with it: tensors become detached copies."""
    if isinstance(state, Tensor):
        return Tensor(np.array(state.data, copy=True))
    if isinstance(state, dict):
        out = copy.copy(state)  # keeps the mapping type (e.g. OrderedDict) and its order
        for key, value in state.items():
            out[key] = _snapshot(value)
        return out
    return copy.deepcopy(state)
