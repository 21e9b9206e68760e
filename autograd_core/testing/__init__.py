"""Gradient checking: finite differences in float64, float64 replay, and bisection to the guilty op.

``check_grads(f, *args)`` compares the gradients autograd_core computes for ``f`` with central
finite differences and raises an ``AssertionError`` (a `GradcheckError`) saying which
argument, by how much, at which element -- and, by bisecting the recorded graph, which op's
backward rule is to blame.

**What is checked.**  ``f`` takes Tensors and/or Scalars and returns a Tensor, a Scalar or a
tuple of them.  The arguments that require grad are differentiated (as in
``torch.autograd.gradcheck``); the others are held fixed.  By default each argument is
checked along one random unit direction ``u`` with a random unit cotangent ``v``: the
finite difference of ``vᵀf`` along ``u`` against ``vᵀJu`` from one backward pass, so the
cost does not grow with the input size.  ``full=True`` instead builds the whole numerical
Jacobian (one pair of evaluations per input element) and the whole analytic one (one
backward per output element): thorough, for small inputs.  ``order=2`` also checks the
gradient of the gradient, built with ``create_graph=True``.

**float64 replay.**  Finite differences in float32 are too coarse to check anything, so
float32 (and float16) Tensor arguments are cast to float64 and ``f`` runs again on the copies;
the check is about the float64 run.  The rule this puts on ``f``: it must be *dtype-generic*,
taking its dtypes from its inputs (Python numbers, ``x.dtype``, ``zeros_like``) rather than
hard-coding float32; an ``f`` that returns float32 for float64 inputs is rejected with a
``TypeError``.  `replay_float64` runs ``f`` the same way, for your own inspection.

**Gradient bisection.**  When a check fails, `bisect_grads` runs ``f`` once more in float64,
walks the recorded graph from the inputs towards the outputs and checks each node's own rule
at the inputs it recorded (the op replayed on fresh leaves: ``op.fwd`` at the node's parents
and ctx, and the engine's backward through ``op.vjps``).  The first op whose local Jacobian
disagrees is reported (`RuleMismatch`): its name, shapes, and where it was created (the
source line in anomaly mode, the nn.Module path when there is one).  If every op is locally
right, the fault is in how the graph was built (a ``detach()``, ``.data`` arithmetic, a
``no_grad`` block), and the message says so.

All randomness comes from ``numpy.random.default_rng(seed)``; the global generators are never
touched, so checks are repeatable and do not disturb the caller's random streams.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import backends, engine
from ..engine import Const, Node, const
from ..replay import values, walk
from ..scalar import Scalar, _record, _snew
from ..tensor import Tensor, _apply, _leaf

__all__ = ["GradcheckError", "RuleMismatch", "bisect_grads", "check_grads", "replay_float64"]

EPS, ATOL, RTOL = 1e-6, 1e-5, 1e-3  # as torch.autograd.gradcheck
# Locating the worst element costs two evaluations of f per element; only on failure, and
# only up to this many elements.
WORST_ELEMENT_LIMIT = 2000


class GradcheckError(AssertionError):
    """A failed gradient check.  ``report`` is the bisection's `RuleMismatch` (or None);
    ``at_kink`` says the one-sided differences disagree, i.e. ``f`` is not differentiable at
    the point (an input sits on a kink such as relu's 0 or a tie of max)."""

    def __init__(self, message: str, *, order: int = 1, at_kink: bool = False,
                 report: RuleMismatch | None = None) -> None:
        super().__init__(message)
        self.order = order
        self.at_kink = at_kink
        self.report = report


@dataclass(frozen=True)
class RuleMismatch:
    """The bisection's verdict: the first recorded op whose backward rule disagrees with
    finite differences of its forward, at the inputs it saw."""

    op: str
    position: int  # 1-based, in topological order (inputs first)
    nodes: int  # recorded nodes in the graph
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    site: str | None  # the creation site (recorded in anomaly mode only)
    scope: tuple[str, ...]  # the nn.Module path the node was created in
    at_kink: bool
    detail: str  # the local check's own message

    def __str__(self) -> str:
        shapes = ", ".join(str(s) for s in self.input_shapes)
        where = (f"created at {self.site}" if self.site else
                 "creation site unknown (it is recorded only in anomaly mode)")
        if self.scope:
            where += f", in module {'.'.join(self.scope)}"
        kink = ("; its inputs sit on a kink of the op, so this may be the convention at the "
                "kink rather than a wrong rule" if self.at_kink else "")
        detail = "\n".join("    " + line for line in self.detail.splitlines())
        return (f"op '{self.op}' (node {self.position} of {self.nodes} in topological order; "
                f"inputs {shapes} -> output {self.output_shape}; {where}) has a backward rule "
                f"that disagrees with its forward{kink}:\n{detail}")


@dataclass(frozen=True)
class _Tol:
    eps: float
    atol: float
    rtol: float

    def close(self, analytic: Any, numeric: Any) -> Any:
        return np.abs(analytic - numeric) <= self.atol + self.rtol * np.abs(numeric)

    def excess(self, analytic: Any, numeric: Any) -> Any:
        """How many tolerances apart (NaN counts as infinitely far)."""
        ratio = np.abs(analytic - numeric) / (self.atol + self.rtol * np.abs(numeric))
        return np.where(np.isnan(ratio), np.inf, ratio)


def _tolerance(eps: float | None, atol: float | None, rtol: float | None) -> _Tol:
    return _Tol(EPS if eps is None else eps, ATOL if atol is None else atol,
                RTOL if rtol is None else rtol)


# ------------------------------------------------------------------ the arguments
def _float64_like(a: np.ndarray) -> np.ndarray:
    """``a`` in float64, keeping its memory layout (a transposed input stays transposed)."""
    if a.dtype == np.float64:
        return a
    out = np.empty_like(a, dtype=np.float64)
    out[...] = a
    return out


class _Args:
    """``f``'s arguments with the ones to differentiate held as float64 arrays ``x0``."""

    def __init__(self, args: Sequence[Any]) -> None:
        self.fixed: list[Any] = []
        self.positions: list[int] = []  # where the differentiable arguments sit in args
        self.kinds: list[type] = []
        self.x0: list[np.ndarray] = []
        self.homes: list[Any] = []  # per differentiable argument: another library, or None
        self.replayed = False
        for pos, a in enumerate(args):
            if isinstance(a, Tensor):
                data = a.data
                home = None
                if type(data) is not np.ndarray:  # another library: perturbed in numpy,
                    home = backends.where_of(data)  # evaluated back there
                    data = backends.to_numpy(data)
                if data.dtype.kind == "f" and data.dtype != np.float64:
                    data, self.replayed = _float64_like(data), True
                if a.requires_grad:
                    self._differentiable(pos, Tensor, data, home)
                elif home is None:
                    self.fixed.append(a if data is a.data else Tensor(data))
                else:
                    self.fixed.append(Tensor(backends.move(data, home)))
            elif isinstance(a, Scalar):
                if a.requires_grad:
                    self._differentiable(pos, Scalar, np.asarray(a.data, dtype=np.float64))
                else:
                    self.fixed.append(a)
            elif isinstance(a, Node):
                raise TypeError(f"check_grads: argument {pos} is a {type(a).__name__}; pass "
                                f"Tensors, Scalars or plain values")
            else:
                self.fixed.append(a)

    def _differentiable(self, pos: int, kind: type, x: np.ndarray, home: Any = None) -> None:
        self.homes.append(home)
        self.positions.append(pos)
        self.kinds.append(kind)
        self.x0.append(x)
        self.fixed.append(None)

    def build(self, xs: Sequence[np.ndarray]) -> tuple[list[Any], list[Node]]:
        """Arguments for ``f`` with fresh leaves (requiring grad) holding ``xs``."""
        args, leaves = list(self.fixed), list[Node]()
        for pos, kind, x, home in zip(self.positions, self.kinds, xs, self.homes, strict=True):
            # _leaf, not Tensor(): keep x's memory layout (a strided input stays strided)
            data = np.asarray(x) if home is None else backends.move(np.asarray(x), home)
            leaf = _leaf(data, requires_grad=True) if kind is Tensor else Scalar(float(x))
            args[pos] = leaf
            leaves.append(leaf)
        return args, leaves

    def describe(self, i: int) -> str:
        if self.kinds[i] is Scalar:
            return f"argument {self.positions[i]} (a Scalar)"
        replay = ", replayed in float64" if self.replayed else ""
        return f"argument {self.positions[i]} (a tensor of shape {self.x0[i].shape}{replay})"


def _name(f: Callable) -> str:
    qualname = getattr(f, "__qualname__", None)
    return qualname.rsplit("<locals>.", 1)[-1] if qualname else repr(f)


def _outputs(y: Any, name: str) -> list[Node]:
    """``f``'s result as a list of output nodes (floats from a Scalar graph become constants)."""
    items = list(y) if isinstance(y, (tuple, list)) else [y]
    outs: list[Node] = []
    for item in items:
        if isinstance(item, float):
            item = Scalar(item, requires_grad=False)
        if not isinstance(item, Node):
            raise TypeError(f"check_grads: `{name}` must return a Tensor, a Scalar or a tuple "
                            f"of them, got {type(item).__name__}")
        if isinstance(item, Tensor) and not backends.is_floating(item.dtype):
            raise TypeError(f"check_grads: `{name}` returned a {item.dtype} tensor; only "
                            f"floating-point outputs have gradients")
        outs.append(item)
    return outs


def _require_float64(outs: list[Node], name: str) -> None:
    for o in outs:
        if isinstance(o, Tensor) and backends.numpy_dtype(o.dtype) != np.float64:
            raise TypeError(
                f"check_grads: `{name}` returned a {o.dtype} output although its arguments were "
                f"replayed in float64.  Gradients are checked in float64 (float32 finite "
                f"differences are too coarse), so f must be dtype-generic: take dtypes from "
                f"the inputs (Python numbers, x.dtype, zeros_like) instead of hard-coding "
                f"float32.")


def replay_float64(f: Callable, *args: Any) -> Any:
    """Call ``f`` on float64 copies of its floating Tensor arguments, as `check_grads` does.

    Arguments that require grad become fresh float64 leaves (so the result has a graph);
    Scalars are float64 already; other arguments pass through.  Raises ``TypeError`` when
    ``f`` is not dtype-generic, i.e. gives a lower-precision result from float64 inputs.

    >>> import autograd_core as ag
    >>> x = ag.tensor([0.5, 1.5], requires_grad=True)   # float32
    >>> replay_float64(lambda t: (t * t).sum(), x).dtype
    dtype('float64')
    >>> replay_float64(lambda t: t.astype("float32"), x)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: check_grads: `<lambda>` returned a float32 output although ...
    """
    spec = _Args(args)
    call_args, _ = spec.build(spec.x0)
    out = f(*call_args)
    if spec.replayed:
        _require_float64(_outputs(out, _name(f)), _name(f))
    return out


# ------------------------------------------------------------------ the maths
def _values(outs: list[Node]) -> list[np.ndarray]:
    return [np.asarray(_host(o.data), dtype=np.float64) for o in outs]


def _host(a: Any) -> Any:
    """A numpy view of an array of any library (numbers pass)."""
    return backends.to_numpy(a) if backends.is_foreign(a) else a


def _seed(v: np.ndarray, o: Node) -> Any:
    """Cotangent ``v`` as an array of output ``o``'s library, device and dtype."""
    if not isinstance(o, Tensor):
        return float(v)
    if type(o.data) is np.ndarray:
        return np.asarray(v, dtype=o.data.dtype)
    moved = backends.move(v, backends.where_of(o.data))
    return backends.namespace(o.data).astype(moved, o.data.dtype)


def _unit(rng: np.random.Generator, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Random arrays of the given shapes, jointly of unit norm."""
    parts = [rng.standard_normal(s) for s in shapes]
    norm = np.sqrt(sum(float(np.vdot(p, p)) for p in parts))
    return [p / norm for p in parts] if norm > 0 else parts


def _analytic(outs: list[Node], leaves: list[Node], vs: list[np.ndarray],
              retain_graph: bool = False) -> list[np.ndarray]:
    """vᵀJ for every leaf, by the engine's backward (zeros for unused leaves)."""
    live = [(o, v) for o, v in zip(outs, vs, strict=True) if o.requires_grad]
    if not live:
        return [np.zeros(np.shape(x.data)) for x in leaves]
    seeds = [_seed(v, o) for o, v in live]
    grads = engine.grad([o for o, _ in live], leaves, grad_outputs=seeds,
                        retain_graph=retain_graph, allow_unused=True)
    return [np.zeros(np.shape(x.data)) if g is None else
            np.asarray(_host(g.data if isinstance(g, Node) else g), dtype=np.float64)
            for g, x in zip(grads, leaves, strict=True)]


class _Evaluator:
    """Evaluates ``f`` at perturbed float64 arguments."""

    def __init__(self, f: Callable, spec: _Args, name: str) -> None:
        self.f, self.spec, self.name = f, spec, name

    def outputs(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        args, _ = self.spec.build(xs)
        return _values(_outputs(self.f(*args), self.name))

    def at(self, i: int, x: np.ndarray) -> list[np.ndarray]:
        xs = list(self.spec.x0)
        xs[i] = x
        return self.outputs(xs)

    def phi(self, vs: list[np.ndarray], i: int, x: np.ndarray) -> float:
        """vᵀf with argument ``i`` set to ``x``."""
        return sum(float(np.vdot(v, y)) for v, y in zip(vs, self.at(i, x), strict=True))

    def flat(self, i: int, x: np.ndarray) -> np.ndarray:
        ys = self.at(i, x)
        return np.concatenate([y.ravel() for y in ys]) if ys else np.zeros(0)


def _order_label(k: int) -> str:
    return {1: "first-order gradient", 2: "second-order gradient"}.get(k, f"order-{k} gradient")


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(j) for j in np.unravel_index(flat, shape))


def _fmt_index(index: tuple[int, ...]) -> str:
    return "the only element" if index == () else f"element {index}"


def _check(f: Callable, spec: _Args, name: str, k: int, tol: _Tol, full: bool,
           rng: np.random.Generator) -> None:
    """Check ``f``'s gradient (``f`` is already the (k-1)-th derivative function)."""
    args, leaves = spec.build(spec.x0)
    outs = _outputs(f(*args), name)
    if spec.replayed:
        _require_float64(outs, name)
    ys = _values(outs)
    low_precision = [o.dtype for o in outs if isinstance(o, Tensor)
                     and backends.numpy_dtype(o.dtype) != np.float64]
    hint = (f"\n  hint: f's output is {low_precision[0]}; finite differences at that "
            f"precision need a larger eps (about 1e-3) and atol" if low_precision else "")
    ev = _Evaluator(f, spec, name)
    what = f"check_grads: the {_order_label(k)} of `{name}`"
    if full:
        _check_full(ev, outs, leaves, ys, what, k, tol, hint)
        return
    vs = _unit(rng, [y.shape for y in ys])
    grads = _analytic(outs, leaves, vs)
    for i, x in enumerate(spec.x0):
        if x.size == 0:
            continue
        (u,) = _unit(rng, [x.shape])
        plus, minus = ev.phi(vs, i, x + tol.eps * u), ev.phi(vs, i, x - tol.eps * u)
        numeric = (plus - minus) / (2 * tol.eps)
        analytic = float(np.vdot(grads[i], u))
        if tol.close(analytic, numeric):
            continue
        centre = ev.phi(vs, i, x)
        forward, backward = (plus - centre) / tol.eps, (centre - minus) / tol.eps
        at_kink = bool(np.isfinite(forward) and np.isfinite(backward)
                       and not tol.close(forward, backward))
        lines = [
            f"{what} with respect to {spec.describe(i)} disagrees with finite differences.",
            f"  along a random unit direction u with a random unit cotangent v: analytic vᵀJu "
            f"= {analytic:.6g}, numeric = {numeric:.6g} (|difference| "
            f"{abs(analytic - numeric):.3g} > atol {tol.atol:g} + rtol {tol.rtol:g}·|numeric|)",
            _worst_element(ev, vs, i, x, grads[i], tol)]
        if at_kink:
            lines.append(
                f"  f is not differentiable here: the one-sided differences {forward:.6g} and "
                f"{backward:.6g} differ, so an input sits on a kink (relu/abs at 0, a tie of "
                f"max/min, a clip bound); draw inputs away from kinks, e.g. with "
                f"autograd_core.testing.strategies.elements(op)")
        raise GradcheckError("\n".join(lines) + hint, order=k, at_kink=at_kink)


def _worst_element(ev: _Evaluator, vs: list[np.ndarray], i: int, x: np.ndarray,
                   grad: np.ndarray, tol: _Tol) -> str:
    if x.size > WORST_ELEMENT_LIMIT:
        return (f"  worst element not located: the argument has {x.size} elements (more than "
                f"{WORST_ELEMENT_LIMIT}); re-run on a smaller input")
    numeric = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[index] = tol.eps
        numeric[index] = (ev.phi(vs, i, x + step) - ev.phi(vs, i, x - step)) / (2 * tol.eps)
    worst = _index(int(np.argmax(tol.excess(grad, numeric))), x.shape)
    return (f"  worst {_fmt_index(worst)} of vᵀJ: analytic {grad[worst]:.6g}, numeric "
            f"{numeric[worst]:.6g}")


def _check_full(ev: _Evaluator, outs: list[Node], leaves: list[Node], ys: list[np.ndarray],
                what: str, k: int, tol: _Tol, hint: str) -> None:
    """Compare the whole Jacobians, one argument at a time."""
    sizes = [y.size for y in ys]
    m = sum(sizes)
    rows = []  # the analytic Jacobian, one backward pass per output element
    for r in range(m):
        flat_v = np.zeros(m)
        flat_v[r] = 1.0
        parts = np.split(flat_v, np.cumsum(sizes)[:-1])
        vs = [part.reshape(y.shape) for part, y in zip(parts, ys, strict=True)]
        rows.append(_analytic(outs, leaves, vs, retain_graph=True))
    for i, x in enumerate(ev.spec.x0):
        analytic = np.array([row[i].ravel() for row in rows]).reshape(m, x.size)
        numeric = np.empty((m, x.size))
        for j in range(x.size):
            step = np.zeros(x.size)
            step[j] = tol.eps
            plus, minus = x + step.reshape(x.shape), x - step.reshape(x.shape)
            numeric[:, j] = (ev.flat(i, plus) - ev.flat(i, minus)) / (2 * tol.eps)
        if np.all(tol.close(analytic, numeric)):
            continue
        worst = int(np.argmax(tol.excess(analytic, numeric)))
        r, c = worst // x.size, worst % x.size
        out = int(np.searchsorted(np.cumsum(sizes), r, side="right"))
        out_index = _index(r - sum(sizes[:out]), ys[out].shape)
        which = f"output {out} " if len(ys) > 1 else "output "
        raise GradcheckError(
            f"{what} with respect to {ev.spec.describe(i)} disagrees with finite "
            f"differences (full Jacobian).\n"
            f"  worst entry: d {which}{_fmt_index(out_index)} / d input "
            f"{_fmt_index(_index(c, x.shape))}: analytic {analytic[r, c]:.6g}, numeric "
            f"{numeric[r, c]:.6g}; {int(np.sum(~tol.close(analytic, numeric)))} of "
            f"{analytic.size} entries differ (atol {tol.atol:g}, rtol {tol.rtol:g})" + hint,
            order=k)


def _gradient_function(f: Callable, spec: _Args, name: str,
                       rng: np.random.Generator) -> Callable:
    """x ↦ vᵀ ∂f/∂x for a fixed random cotangent v, recorded (create_graph) so it can be
    differentiated again."""
    cotangents: list[list[np.ndarray]] = []

    def gradient(*args: Any) -> tuple[Node, ...]:
        outs = _outputs(f(*args), name)
        if not cotangents:
            cotangents.append(_unit(rng, [np.shape(o.data) for o in outs]))
        leaves = [args[p] for p in spec.positions]
        live = [(o, v) for o, v in zip(outs, cotangents[0], strict=True) if o.requires_grad]
        grads: Sequence[Any] = [None] * len(leaves)
        if live:
            seeds = [Tensor(_seed(v, o)) if isinstance(o, Tensor)
                     else Scalar(float(v), requires_grad=False) for o, v in live]
            grads = engine.grad([o for o, _ in live], leaves, grad_outputs=seeds,
                                create_graph=True, allow_unused=True)
        return tuple(_as_output(g, x) for g, x in zip(grads, leaves, strict=True))

    gradient.__qualname__ = name
    return gradient


def _as_output(g: Any, leaf: Node) -> Node:
    if isinstance(g, Node):
        return g
    if isinstance(leaf, Scalar):
        return Scalar(0.0 if g is None else float(g), requires_grad=False)
    if g is None:
        return Tensor(backends.namespace(leaf.data).zeros_like(leaf.data))
    return Tensor(g if backends.is_foreign(g) else np.asarray(g))


def _check_orders(f: Callable, spec: _Args, name: str, order: int, tol: _Tol, full: bool,
                  seed: int) -> None:
    rng = np.random.default_rng(seed)
    fk = f
    for k in range(1, order + 1):
        _check(fk, spec, name, k, tol, full, rng)
        if k < order:
            fk = _gradient_function(fk, spec, name, rng)


# ------------------------------------------------------------------ public API
def check_grads(f: Callable, *args: Any, order: int = 1, mode: str = "rev",
                eps: float | None = None, atol: float | None = None,
                rtol: float | None = None, full: bool = False, seed: int = 0) -> None:
    """Check the gradients of ``f`` at ``args`` against central finite differences.

    Differentiates with respect to the arguments that require grad (Tensors and Scalars),
    in float64 (float32 Tensors are replayed in float64: ``f`` must be dtype-generic).
    ``order=2`` also checks the gradient of the gradient (via ``create_graph``).  Defaults
    ``eps=1e-6, atol=1e-5, rtol=1e-3`` (as ``torch.autograd.gradcheck``); a value passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``.  ``full=True`` compares whole
    Jacobians instead of one random direction per argument.  ``seed`` seeds the private
    generator that draws the directions.  ``mode`` is ``"rev"``: the engine is reverse-mode.

    Returns None; raises `GradcheckError` (an AssertionError) naming the function, the
    argument, the analytic and numeric values, the worst element and -- from
    `bisect_grads` -- the first op whose backward rule disagrees with its forward.

    >>> import autograd_core as ag
    >>> x = ag.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True)
    >>> check_grads(lambda t: ag.tanh(t) @ t, x, order=2)
    >>> check_grads(lambda a, b: a.sin() * b, ag.Scalar(0.7), ag.Scalar(-1.2), full=True)
    >>> check_grads(lambda t: t * t.detach(), x)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    autograd_core.testing.GradcheckError: check_grads: the first-order gradient of ...
    ...no single rule is to blame...
    """
    if mode != "rev":
        raise ValueError(f"check_grads: mode must be 'rev' (autograd_core is reverse-mode "
                         f"only), got {mode!r}")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be a positive int, got {order!r}")
    tol = _tolerance(eps, atol, rtol)
    spec = _Args(args)
    name = _name(f)
    if not spec.positions:
        raise ValueError(f"check_grads: no argument of `{name}` requires grad; pass Tensors "
                         f"with requires_grad=True or Scalars")
    try:
        _check_orders(f, spec, name, order, tol, full, seed)
    except GradcheckError as err:
        try:
            report = bisect_grads(f, *args, order=err.order, eps=tol.eps, atol=tol.atol,
                                  rtol=tol.rtol, seed=seed)
            verdict = f"gradient bisection: {report}" if report else _NO_CULPRIT
        except Exception as exc:  # the check's own verdict must reach the user regardless
            report, verdict = None, f"gradient bisection could not run: {exc!r}"
        raise GradcheckError(f"{err}\n  {verdict}", order=err.order, at_kink=err.at_kink,
                             report=report) from None


_NO_CULPRIT = (
    "gradient bisection: every recorded op's backward rule agrees with finite differences at "
    "its recorded inputs, so no single rule is to blame: the graph does not describe f (a "
    "detach(), .data or numpy arithmetic, or a no_grad block on a value that needs a "
    "gradient).")


def bisect_grads(f: Callable, *args: Any, order: int = 1, eps: float | None = None,
                 atol: float | None = None, rtol: float | None = None,
                 seed: int = 0) -> RuleMismatch | None:
    """The first op of ``f``'s graph whose backward rule disagrees with its forward, or None.

    Runs ``f`` once in float64 (float32 Tensors replayed), then, inputs first, replays each
    recorded node's op on fresh leaves holding the node's recorded inputs and checks it with
    `check_grads`'s own test (up to ``order``).  A node whose inputs sit on a kink is reported
    only if no other node disagrees.  Nodes that lower the precision (a cast to float32)
    cannot be checked by finite differences and are skipped.

    >>> import numpy as np, autograd_core as ag
    >>> from autograd_core.engine import Op
    >>> from autograd_core.tensor import _apply
    >>> bad_square = Op("bad_square", np.square, None,
    ...                 [lambda ns, g, out, ctx, a: g * a])   # the rule forgot the 2
    >>> f = lambda t: ag.exp(_apply(bad_square, (ag.sin(t),), np.square(ag.sin(t).data)))
    >>> report = bisect_grads(f, ag.tensor([0.3, 1.2], requires_grad=True))
    >>> report.op, report.position, report.input_shapes
    ('bad_square', 2, ((2,),))
    """
    tol = _tolerance(eps, atol, rtol)
    spec = _Args(args)
    call_args, _ = spec.build(spec.x0)
    outs = [o for o in _outputs(f(*call_args), _name(f)) if o.requires_grad]
    graph, place = walk([o._node for o in outs])  # inputs first
    parents = [tuple(place[id(p)] for p in n._parents) for n in graph]
    vals, _ = values(graph, parents, {id(o._node): o.data for o in outs})
    nodes = [(n, vals[i], [vals[p] for p in parents[i]])
             for i, n in enumerate(graph) if n._op is not None and n.requires_grad]
    at_kink = None
    for position, (node, out, inputs) in enumerate(nodes, 1):
        try:
            _check_node(node, inputs, order, tol, seed)
        except GradcheckError as err:
            found = _mismatch(node, out, inputs, position, len(nodes), str(err), err.at_kink)
        except Exception as exc:  # a rule that crashes is the culprit too
            found = _mismatch(node, out, inputs, position, len(nodes),
                              f"its rule or forward raised {exc!r}", False)
        else:
            continue
        if not found.at_kink:
            return found
        at_kink = at_kink or found
    return at_kink


def _mismatch(node: Node, out: Any, inputs: list[Any], position: int, count: int, detail: str,
              at_kink: bool) -> RuleMismatch:
    assert node._op is not None
    meta = node._meta or {}
    site = meta.get("site")
    return RuleMismatch(
        op=node._op.name, position=position, nodes=count,
        input_shapes=tuple(np.shape(v) for v in inputs),
        output_shape=np.shape(out), site=None if site is None else str(site),
        scope=tuple(meta.get("scope", ())), at_kink=at_kink, detail=detail)


def _replay(node: Node, parents: Sequence[Node]) -> Node:
    """``node``'s op applied anew to ``parents`` (same ctx), recorded like the original."""
    op, ctx = node._op, getattr(node, "_ctx", None)
    assert op is not None
    inputs = [p.data for p in parents]
    forward = op.sfwd if isinstance(node, Scalar) else op.fwd
    data = forward(*inputs, *(ctx or ()))
    if isinstance(node, Scalar):
        if engine.is_grad_enabled() and any(p.requires_grad for p in parents):
            return _record(op, data, parents[0], parents[1] if len(parents) > 1 else None, ctx)
        return _snew(data)
    return _apply(op, tuple(parents), data, ctx)  # type: ignore[arg-type]


def _check_node(node: Node, inputs: list[Any], order: int, tol: _Tol, seed: int) -> None:
    """Check one node's rules at its recorded inputs (constants stay constants)."""
    op = node._op
    assert op is not None

    def op_at(*inputs: Any) -> Node:
        return _replay(node, [x if isinstance(x, Node) else const(x) for x in inputs])

    op_at.__qualname__ = op.name
    args = [v if type(p) is Const else
            Scalar(v, requires_grad=p.requires_grad) if isinstance(p, Scalar) else
            _leaf(np.asarray(v), requires_grad=p.requires_grad)
            for p, v in zip(node._parents, inputs, strict=True)]
    spec = _Args(args)
    call_args, _ = spec.build(spec.x0)
    out = op_at(*call_args)
    if isinstance(out, Tensor) and backends.numpy_dtype(out.dtype) != np.float64:
        return  # a cast to lower precision: finite differences would only see rounding
    _check_orders(op_at, spec, op.name, order, tol, False, seed)
