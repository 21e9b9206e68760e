"""What ``ag.compile`` records besides the graph: backward calls, side effects, and `outside`.

A compiled call's plan is read from the graph it recorded, but the graph does not show
everything a training step does: when ``backward()`` ran, the optimizer's in-place
update, a running statistic written into a buffer, a mask drawn from a random generator,
a comparison or an index computed on ``.data``.  While a call is being recorded,
``engine.STATE.tracer`` holds a `Tracer` and those places report to it; each report is an
*event* numbered from the graph's own recording counter, so events and recorded ops
interleave in the order they happened.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .backends import is_foreign, on_host
from .engine import SEQ, STATE
from .errors import CompileError
from .tensor import Tensor, _make

__all__ = ["Tracer", "outside"]


class Tracer:
    """The record of one call being compiled (see the module docstring).

    ``events``: ``(seq, kind, fn, inputs, outputs)`` with kind ``"outside"`` (``fn`` of the
    inputs' arrays, its results the ``outputs`` Tensors), ``"call"`` (``fn()`` for its
    side effects: an optimizer step) or ``"backward"`` (inputs: the root node and the
    ``grad`` given).  ``modules``: the nn modules called, with their train/eval state
    then (a plan is replayed only while those states hold).
    """

    def __init__(self) -> None:
        self.events: list[tuple[int, str, Any, tuple[Any, ...], tuple[Tensor, ...]]] = []
        self.modules: dict[int, tuple[Any, bool]] = {}
        self.after: list[Callable[[], Any]] = []  # see after_backward

    def after_backward(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` once the next ``backward()`` has finished, as one call of the plan
        (what a hook queueing an end-of-backward callback does eagerly, such as
        DistributedDataParallel's gradient averaging)."""
        if fn not in self.after:
            self.after.append(fn)

    def backward_done(self) -> None:
        fns, self.after = self.after, []
        for fn in fns:
            self.run(fn)

    def outside(self, fn: Callable[..., Any], inputs: tuple[Any, ...],
                outputs: tuple[Tensor, ...]) -> None:
        self.events.append((next(SEQ), "outside", fn, inputs, outputs))

    def call(self, fn: Callable[[], Any]) -> None:
        self.events.append((next(SEQ), "call", fn, (), ()))

    def run(self, fn: Callable[[], Any]) -> Any:
        """Record ``fn()`` as one call of the plan and run it now, untraced: its body is
        plain eager code whose effects the replay repeats by calling it again (an
        optimizer's step, zero_grad, gradient clipping)."""
        self.call(fn)
        STATE.tracer = None
        try:
            return fn()
        finally:
            STATE.tracer = self

    def set_grad(self, tensor: Tensor, value: Any) -> None:
        if value is not None:
            self.refuse("assigning a tensor's .grad (clear it with zero_grad() or "
                        "p.grad = None, clip it with nn.utils.clip_grad_norm_)")
        self.call(functools.partial(_clear_grad, tensor))

    def backward(self, root: Any, grad: Any, create_graph: bool) -> None:
        if create_graph:
            self.refuse("backward(create_graph=True)")
        self.events.append((next(SEQ), "backward", None, (root, grad), ()))

    def module(self, module: Any) -> None:
        self.modules.setdefault(id(module), (module, module.training))

    @staticmethod
    def refuse(what: str) -> None:
        raise CompileError(f"compile: {what} inside a compiled function: a plan cannot "
                           f"replay it; move it out of the function")


def _clear_grad(tensor: Tensor) -> None:
    tensor.grad = None


def outside(fn: Callable[..., Any], *inputs: Any) -> Any:
    """``fn`` applied to the arrays of ``inputs``, outside the graph: no gradient flows
    through it, and its results come back as Tensors that do not require grad (one, or a
    tuple when ``fn`` returns a tuple; None when it returns None).

    Eagerly this is just the call.  Under ``ag.compile`` the call is recorded and repeated
    on every replay, where a value computed from ``.data`` directly would be baked into
    the plan as a constant: write masks, indices, statistics and random draws that feed a
    graph this way (the library's own do), and side effects such as updating a buffer.

    >>> import autograd_core as ag
    >>> x = ag.tensor([-1.0, 2.0], requires_grad=True)
    >>> positive = ag.outside(lambda a: a > 0, x)
    >>> ag.where(positive, x, 0.0).tolist()
    [0.0, 2.0]
    """
    arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
    foreign = next((a for a in arrays if type(a) is not np.ndarray and is_foreign(a)), None)
    result = fn(*arrays) if foreign is None else on_host(fn, arrays, foreign)
    many = isinstance(result, tuple)
    outputs = () if result is None else tuple(
        _make(r if type(r) is np.ndarray or is_foreign(r) else np.asarray(r))
        for r in (result if many else (result,)))
    tracer = STATE.tracer
    if tracer is not None:
        tracer.outside(fn, inputs, outputs)
    return None if result is None else outputs if many else outputs[0]
