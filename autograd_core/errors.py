"""The errors ops raise on bad arguments: ours and PyTorch's exception types at once."""

from __future__ import annotations

__all__ = ["CompileError", "DeviceError", "OpError", "OpTypeError"]


class OpError(ValueError, RuntimeError):
    """An op refused its arguments: shapes that do not fit, a bad dimension list, a value
    out of range.  A ValueError, as numpy and this library have always raised, and a
    RuntimeError, as PyTorch raises: code written for either catches it."""


class OpTypeError(TypeError, RuntimeError):
    """An op does not take this dtype (bitwise ops on floats): a TypeError and, as in
    PyTorch, a RuntimeError."""


class DeviceError(RuntimeError):
    """Arrays of two libraries or two devices met in one op (a RuntimeError, as PyTorch's
    "Expected all tensors to be on the same device"); move one with ``Tensor.to``."""


class CompileError(RuntimeError):
    """``ag.compile`` cannot replay a function: it depends on its data in a way a plan
    cannot repeat (a Python branch on a value, ``.item()``, a constant computed from an
    array outside the graph), or it uses something a plan does not hold (hooks)."""
