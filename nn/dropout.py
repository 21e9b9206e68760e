"""`Dropout`: inverted dropout, active only in training mode."""

from __future__ import annotations

import numpy as np

from autograd_core import Tensor

from . import functional as F
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each element with probability ``p`` in training and scale the rest by
    1/(1 − p); the identity in evaluation (see ``F.dropout``).  ``generator`` (not in
    PyTorch) gives the layer its own seeded mask stream.

    >>> import autograd_core as ag
    >>> drop = Dropout(0.5).eval()
    >>> drop(ag.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, *, generator: np.random.Generator | None = None
                 ) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout(input, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"
