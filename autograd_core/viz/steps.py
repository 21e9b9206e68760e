"""``backward_steps``: what backward does, node by node, recorded from the engine's own driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import STATE, Const, Node, _released_error, run_backward
from ..replay import walk
from ..rule_text import rule_text
from .dot import _num, _summary
from .graph import magnitude

__all__ = ["Contribution", "Send", "Step", "backward_steps", "describe_value"]


@dataclass(frozen=True)
class Contribution:
    """One gradient a node received: from ``consumer``'s rule for input ``slot`` (None and
    -1 for the seed of the loss itself)."""

    consumer: Node | None
    slot: int
    grad: Any


@dataclass(frozen=True)
class Send:
    """The gradient a node's rule ``slot`` sent to ``parent`` (already summed back to the
    parent's shape: the engine's unbroadcast), with the rule's text."""

    parent: Node
    slot: int
    grad: Any
    rule: str


@dataclass(frozen=True)
class Step:
    """What backward did at one node, in the order it did it.

    ``node`` is the graph node (a Scalar, a leaf Tensor, or a Tensor's ``grad_fn``);
    ``label`` its name, else its op, else "parameter" / "input".
    ``grad`` is the sum of ``contributions`` in arrival order (the engine's own sum, the
    same object); ``grad_after_hooks`` is what the rules saw (``grad`` itself unless a hook
    returned a replacement).  ``rules`` has one text per input of the op (empty for a leaf);
    ``sends`` one entry per input that requires grad.
    """

    index: int
    node: Node
    label: str
    op: str
    grad: Any
    grad_after_hooks: Any
    contributions: tuple[Contribution, ...]
    rules: tuple[str, ...]
    sends: tuple[Send, ...]

    @property
    def is_leaf(self) -> bool:
        return self.op == ""

    @property
    def hooked(self) -> bool:
        """Whether a hook replaced the gradient."""
        return self.grad_after_hooks is not self.grad

    def __str__(self) -> str:
        if self.op:
            args = ", ".join(label_of(p) for p in self.node._parents)
            named = f"{self.label} = " if self.label != self.op else ""
            lines = [f"step {self.index}: {named}{self.op}({args})"]
        else:
            lines = [f"step {self.index}: {self.label} (leaf)"]
        parts = [describe_value(c.grad) for c in self.contributions]
        total = describe_value(self.grad)
        lines.append("  receives " + (total if len(parts) < 2 else
                                      " + ".join(parts) + " = " + total))
        if self.hooked:
            lines.append("  a hook replaced it with " + describe_value(self.grad_after_hooks))
        for s in self.sends:
            lines.append(f"  input {s.slot} ({label_of(s.parent)}): {s.rule}; sends "
                         f"{describe_value(s.grad)}")
        return "\n".join(lines)


def describe_value(v: Any) -> str:
    """A gradient or value in a few characters: the number, or a tensor's shape and range.

    >>> describe_value(0.25)
    '0.25'
    >>> describe_value(np.zeros((2, 3)))
    '(2, 3) [0, 0] norm 0'
    """
    if isinstance(v, Node):  # a create_graph gradient; not produced here, but harmless
        v = v.data
    if not isinstance(v, np.ndarray):
        return _num(v)
    if v.size == 1:
        return _num(v.reshape(-1)[0])
    return f"{tuple(v.shape)} {_summary(v)} norm {_num(magnitude(v))}"


def label_of(node: Node) -> str:
    """How a step names a node: its name, else its op, else what kind of leaf it is."""
    if node.name:
        return node.name
    if node._op is not None:
        return node.op_name
    if type(node) is Const:
        return "constant"
    return "parameter" if node.requires_grad else "input"


class _Recorder:
    """The observer ``run_backward`` reports to (see its docstring); a step is complete
    when the driver takes the next node (or stops)."""

    def __init__(self, root: Node, seed: Any) -> None:
        self.steps: list[Step] = []
        self.arrived: dict[int, list[Contribution]] = {id(root): [Contribution(None, -1, seed)]}
        self.current: tuple[Node, Any, Any, tuple[Contribution, ...]] | None = None
        self.sends: list[Send] = []

    def ran(self, node: Node, g_in: Any, g: Any) -> None:
        self.finish()
        self.current = (node, g_in, g, tuple(self.arrived.pop(id(node), ())))

    def sent(self, node: Node, i: int, parent: Node, pg: Any) -> None:
        op = node._op
        assert op is not None
        self.arrived.setdefault(id(parent), []).append(Contribution(node, i, pg))
        self.sends.append(Send(parent, i, pg, rule_text(op, i)))

    def finish(self) -> None:
        if self.current is None:
            return
        node, g_in, g, contributions = self.current
        op = node._op
        rules = () if op is None else tuple(rule_text(op, i) for i in range(len(op.vjps)))
        self.steps.append(Step(len(self.steps), node, label_of(node), node.op_name, g_in, g,
                               contributions, rules, tuple(self.sends)))
        self.current, self.sends = None, []


def backward_steps(loss: Node, grad: Any = None) -> list[Step]:
    """The steps of ``loss.backward(grad)``, one per node in the order the engine runs them
    (newest recorded node first, the leaves last), without touching any ``.grad``.

    The gradients are the engine's own: the records come from ``run_backward`` itself
    (``observer``), so they equal what ``backward()`` computes bit for bit.  Hooks run, as
    in backward; ``retain_grad()`` tensors are not filled.  The graph's saved values are
    kept (as ``retain_graph=True``), so ``backward()`` can still run afterwards.  After a
    plain ``backward()`` they are gone: call this first, or backward with
    ``retain_graph=True`` (a RuntimeError says so).

    >>> import autograd_core as ag
    >>> a, b = ag.Scalar(2.0, name="a"), ag.Scalar(3.0, name="b")
    >>> steps = backward_steps(a * b)
    >>> [(s.label, s.grad) for s in steps]
    [('mul', 1.0), ('b', 2.0), ('a', 3.0)]
    >>> steps[0].sends[0].rule
    'd(a*b)/da = b'
    """
    if STATE.tracer is not None:  # inside ag.compile: a plan could not replay the records
        STATE.tracer.refuse("viz.backward_steps()")
    root = _check_loss("backward_steps", loss)
    nodes, _ = walk([root])
    for n in nodes:
        if n._op is not None and n._saved is None:  # type: ignore[attr-defined]
            msg = str(_released_error(n)).replace("backward: ", "", 1)
            raise RuntimeError(f"backward_steps: {msg} (Or call backward_steps before "
                               f"backward.)")
    try:
        seed = loss._seed_grad(grad, False)
    except RuntimeError as e:
        raise RuntimeError(str(e).replace("backward:", "backward_steps:", 1)) from None
    leaves = [n for n in nodes if n._op is None and n.requires_grad and type(n) is not Const]
    recorder = _Recorder(root, seed)
    # ``inputs`` = every leaf: the driver then fills no .grad, and runs every rule.
    run_backward([root], [seed], True, False, leaves, True, observer=recorder)
    recorder.finish()
    return recorder.steps


def _check_loss(fn: str, loss: Any) -> Node:
    if not isinstance(loss, Node) or type(loss) is Const:
        raise TypeError(f"{fn}: loss must be a Tensor or Scalar, got {type(loss).__name__}")
    if not loss.requires_grad:
        raise RuntimeError(
            f"{fn}: the loss ({loss._describe()}) does not require grad, so backward has "
            f"nothing to do; did you forget requires_grad=True on a parameter, or compute "
            f"the loss under no_grad()?")
    return loss._node
