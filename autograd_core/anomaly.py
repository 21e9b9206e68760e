"""Anomaly mode: remember where every node was created and stop at the first NaN/Inf gradient."""

from __future__ import annotations

import contextlib
import os
import sys
from types import FrameType, SimpleNamespace
from typing import Any

import numpy as np

from .engine import STATE, Node

__all__ = ["detect_anomaly", "creation_site"]

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))


class detect_anomaly(contextlib.ContextDecorator):
    """Inside this block every new node remembers its creation site (a short stack) and
    backward checks each gradient it produces: the first NaN/Inf raises a RuntimeError
    naming the op, its shapes, where it was created and, when the NaN already came from the
    forward pass, the op that first produced it.  ``check_forward=True`` also raises as soon
    as an op's output holds NaN/Inf.  Off by default: it costs a stack walk per op.

    >>> import autograd_core as ag
    >>> x = ag.tensor([0.0, 1.0], requires_grad=True)
    >>> with detect_anomaly():
    ...     y = (ag.log(x) * 0).sum()
    ...     y.backward()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    RuntimeError: anomaly: backward of op 'log' ... produced NaN/Inf ...
    """

    def __init__(self, check_forward: bool = False) -> None:
        self.check_forward = check_forward
        self.prev: list[tuple[bool, bool]] = []

    def __enter__(self) -> None:
        self.prev.append((STATE.anomaly, STATE.anomaly_check_forward))
        STATE.anomaly, STATE.anomaly_check_forward = CHECKS, self.check_forward

    def __exit__(self, *exc: object) -> None:
        STATE.anomaly, STATE.anomaly_check_forward = self.prev.pop()


def creation_site(depth: int = 3) -> str:
    """The innermost ``depth`` frames outside the engine, innermost first."""
    frames: list[str] = []
    f: FrameType | None = sys._getframe(1)
    while f is not None and len(frames) < depth:
        path = os.path.abspath(f.f_code.co_filename)
        if os.path.dirname(path) != _ENGINE_DIR:
            frames.append(f"{_short(path)}:{f.f_lineno} in {f.f_code.co_name}")
        f = f.f_back
    return " <- ".join(frames) or "unknown"


def _short(path: str) -> str:
    parts = path.split(os.sep)
    return os.sep.join(parts[-2:])


def site_of(node: Node) -> str:
    """Where ``node`` was created, if anomaly mode was on then."""
    meta = node._meta or {}
    return meta.get("site", "unknown (enable detect_anomaly() before the forward pass)")


def _finite(x: Any) -> bool:
    data = getattr(x, "data", x)
    return bool(np.all(np.isfinite(data)))


def _shapes(node: Node) -> str:
    return ", ".join(str(_shape(p)) for p in node._parents) or "()"


def _shape(p: Any) -> tuple[int, ...]:
    shape = getattr(p, "shape", None)  # a Tensor or a Tensor's node (a Scalar has none)
    return np.shape(p.data) if shape is None else shape


def check_forward(out: Node, value: Any) -> None:
    """Raise if a freshly recorded output's ``value`` holds NaN/Inf (``check_forward=True``)."""
    if not _finite(value):
        raise RuntimeError(
            f"anomaly: forward of op '{out.op_name}' (inputs of shapes {_shapes(out)}) produced "
            f"NaN/Inf; created at {site_of(out)}")


def forward_origin(node: Node) -> Node | None:
    """The earliest recorded node (walking back from ``node``) whose output is non-finite
    while all of its inputs are finite: where a NaN/Inf first entered the forward pass
    (values the graph no longer holds are recomputed, see ``replay.values``)."""
    from .replay import values, walk

    order, position = walk([node])
    parents = [tuple(position[id(p)] for p in n._parents) for n in order]
    vals, _ = values(order, parents)
    finite = [v is None or _finite(v) for v in vals]
    for i, n in enumerate(order):
        if not finite[i] and n._op is not None and all(finite[p] for p in parents[i]):
            return n
    return None


def check_backward(node: Node, i: int, grad: Any) -> None:
    """Raise if rule ``i`` of ``node`` produced a NaN/Inf gradient."""
    if _finite(grad):
        return
    msg = (f"anomaly: backward of op '{node.op_name}' (inputs of shapes {_shapes(node)}) "
           f"produced NaN/Inf in the gradient of its input {i}; the op was created at "
           f"{site_of(node)}")
    origin = forward_origin(node)
    if origin is not None and origin is not node:
        msg += (f". The forward pass already held NaN/Inf, first produced by op "
                f"'{origin.op_name}' created at {site_of(origin)}")
    raise RuntimeError(msg)


# What the engine calls while anomaly mode is on (it holds this, and never imports us).
CHECKS = SimpleNamespace(creation_site=creation_site, check_forward=check_forward,
                         check_backward=check_backward)
