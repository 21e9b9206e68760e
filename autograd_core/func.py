"""Function transforms (JAX / torch.func style): grad, vjp, jvp, jacobian, hessian, hvp, ...

Each transform takes a function of Tensors (or of Scalars / Python floats) and returns a
function.  They compose: ``grad(grad(f))`` is the second derivative, because a transform
called on inputs that already carry a graph records its own backward (create_graph).

``jvp`` (forward mode) uses the double-vjp trick: ``g(u) = J^T u`` is linear in ``u``, so
the vjp of ``g`` with cotangent ``t`` is ``J t``.  It costs two reverse passes and needs
no forward-mode rules.

>>> import autograd_core as ag
>>> from autograd_core import func
>>> f = lambda x: (x ** 3).sum()
>>> func.grad(f)(ag.tensor([1.0, 2.0])).tolist()
[3.0, 12.0]
>>> func.grad(func.grad(lambda x: x ** 3))(2.0)
12.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import Node, enable_grad
from .engine import grad as _grad
from .scalar import Scalar
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp"]


def _as_input(x: Any) -> tuple[Node, bool]:
    """A node to differentiate with respect to, and whether it came from an outer graph."""
    if isinstance(x, Node) and x.requires_grad:
        return x, True  # nested inside another transform: differentiate through it
    if isinstance(x, Scalar):
        return Scalar(x.data), False
    if isinstance(x, Tensor):
        return Tensor(x.data, requires_grad=True), False
    if isinstance(x, (int, float)):
        return Scalar(float(x)), False
    return Tensor(np.asarray(x, dtype=float) if np.asarray(x).dtype.kind in "iub"
                  else np.asarray(x), requires_grad=True), False


def _argnums(argnums: int | Sequence[int], n: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for a function called with {n} "
                             f"positional arguments")
    return tuple(a % n for a in nums)


def _call(f: Callable, args: tuple, argnums: tuple[int, ...], has_aux: bool
          ) -> tuple[list[Node], bool, Any, Any]:
    """Run ``f`` with the differentiated arguments replaced by fresh leaves (or kept when
    they come from an outer transform); returns (inputs, nested, output, aux)."""
    call_args = list(args)
    inputs, nested = [], False
    for a in argnums:
        node, outer = _as_input(call_args[a])
        call_args[a] = node
        inputs.append(node)
        nested |= outer
    with enable_grad():
        res = f(*call_args)
    aux = None
    if has_aux:
        if not (isinstance(res, tuple) and len(res) == 2):
            raise TypeError("has_aux=True: the function must return a pair (output, aux)")
        res, aux = res
    return inputs, nested, res, aux


def _unwrap(g: Any, nested: bool) -> Any:
    """Top-level results are plain (a leaf Tensor / float), nested ones keep their graph."""
    if nested:
        return g
    if isinstance(g, Scalar):
        return g.data
    if isinstance(g, Tensor):
        return Tensor(g.data)
    return g


def _scalar_output(out: Any, name: str) -> None:
    size = out.size if isinstance(out, Tensor) else 1
    if not isinstance(out, Node) or size != 1:
        raise TypeError(f"{name}: the function must return a one-element Tensor or a Scalar, "
                        f"got {type(out).__name__}"
                        + (f" of shape {out.shape}" if isinstance(out, Tensor) else ""))


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
                   ) -> Callable:
    """``f``'s value and its gradient with respect to the ``argnums`` arguments.

    >>> import autograd_core as ag
    >>> v, g = value_and_grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(
    ...     ag.tensor([2.0]), ag.tensor([3.0]))
    >>> v.item(), g[0].item(), g[1].item()
    (6.0, 3.0, 2.0)
    """
    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        nums = _argnums(argnums, len(args))
        inputs, nested, out, aux = _call(f, args, nums, has_aux)
        _scalar_output(out, "grad")
        if not out.requires_grad:  # f does not depend on its inputs
            grads = [_zeros_like(x) for x in inputs]
        else:
            grads = list(_grad(out, inputs, create_graph=nested, allow_unused=True))
            grads = [_zeros_like(x) if g is None else g for g, x in zip(grads, inputs,
                                                                        strict=True)]
        grads = [_unwrap(g, nested) for g in grads]
        value = _unwrap(out, nested)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    return wrapper


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar-valued ``f`` with respect to its ``argnums`` arguments
    (``(grad, aux)`` with ``has_aux``)."""
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        (value_aux, g) = vg(*args)
        return (g, value_aux[1]) if has_aux else g

    return wrapper


def _zeros_like(x: Node) -> Any:
    return 0.0 if isinstance(x, Scalar) else Tensor(np.zeros_like(x.data))


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns one vector-Jacobian
    product per primal; ``vjp_fn`` can be called many times (``(out, vjp_fn, aux)`` with
    ``has_aux``)."""
    inputs, nested, out, aux = _call(f, primals, tuple(range(len(primals))), has_aux)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        if not out.requires_grad:
            return tuple(_zeros_like(x) for x in inputs)
        ct = cotangent
        if isinstance(out, Tensor) and not isinstance(ct, Tensor):
            ct = Tensor(np.asarray(ct, dtype=out.dtype))
        with enable_grad():
            gs = _grad(out, inputs, grad_outputs=ct, retain_graph=True,
                       create_graph=nested or (isinstance(ct, Node) and ct.requires_grad),
                       allow_unused=True)
        return tuple(_zeros_like(x) if g is None else _unwrap(g, nested or _is_graph(g))
                     for g, x in zip(gs, inputs, strict=True))

    value = _unwrap(out, nested)
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def _is_graph(g: Any) -> bool:
    return isinstance(g, Node) and g.requires_grad


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J @ tangents)``: a Jacobian-vector product, by the double-vjp trick.

    >>> import autograd_core as ag
    >>> out, t = jvp(lambda x: x ** 2, (ag.tensor([1.0, 3.0]),), (ag.tensor([1.0, 1.0]),))
    >>> t.tolist()
    [2.0, 6.0]
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(tangents)} tangents for {len(primals)} primals")
    inputs, nested, out, _ = _call(f, primals, tuple(range(len(primals))), False)
    if not out.requires_grad:
        return _unwrap(out, nested), _zeros_out(out)
    with enable_grad():
        if isinstance(out, Scalar):
            u: Node = Scalar(0.0)
        else:
            u = Tensor(np.zeros_like(out.data), requires_grad=True)
        gs = _grad(out, inputs, grad_outputs=u, create_graph=True, allow_unused=True)
        pairs = [(g, t) for g, t in zip(gs, tangents, strict=True)
                 if g is not None and _is_graph(g)]
        if not pairs:
            return _unwrap(out, nested), _zeros_out(out)
        total: Any = None
        for g, t in pairs:  # <J^T u, t> summed over the primals
            term = g * t if isinstance(g, Scalar) else (g * _tensor_like(t, g)).sum()
            total = term if total is None else total + term
        (ju,) = _grad(total, u, create_graph=nested, allow_unused=True)
    if ju is None:
        ju = _zeros_out(out)
    return _unwrap(out, nested), _unwrap(ju, nested)


def _tensor_like(t: Any, like: Tensor) -> Any:
    return t if isinstance(t, Tensor) else Tensor(np.asarray(t, dtype=like.dtype))


def _zeros_out(out: Any) -> Any:
    return 0.0 if isinstance(out, Scalar) else Tensor(np.zeros_like(out.data))


def jacobian(f: Callable, argnums: int = 0, mode: str = "rev") -> Callable:
    """The Jacobian of ``f`` with respect to argument ``argnums``, of shape
    ``out.shape + in.shape``: one vjp per output element (``mode="rev"``) or one jvp per
    input element (``mode="fwd"``, better when inputs are few)."""
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        x = args[argnums]
        xd = np.asarray(x.data if isinstance(x, Node) else x, dtype=float)

        def g(xi: Any) -> Any:
            return f(*args[:argnums], xi, *args[argnums + 1:])

        if mode == "rev":
            out, fn = vjp(g, x)
            od = np.asarray(out.data if isinstance(out, Node) else out)
            rows = []
            for k in range(od.size):
                e = np.zeros(od.size, dtype=od.dtype)
                e[k] = 1
                rows.append(_data(fn(e.reshape(od.shape))[0]))
            jac = np.stack(rows).reshape(od.shape + xd.shape) if rows else np.zeros(
                od.shape + xd.shape)
        else:
            cols: list[np.ndarray] = []
            out_data = np.asarray(_data(g(x))) if xd.size == 0 else None
            for k in range(xd.size):
                e = np.zeros(xd.size, dtype=xd.dtype)
                e[k] = 1
                e = e.reshape(xd.shape)
                t: Any = float(e) if isinstance(x, (Scalar, float, int)) else Tensor(e)
                out, col = jvp(g, (x,), (t,))
                out_data = np.asarray(out.data if isinstance(out, Node) else out)
                cols.append(np.asarray(_data(col)))
            assert out_data is not None
            jac = (np.moveaxis(np.stack(cols), 0, -1) if cols else np.zeros(out_data.shape + (0,))
                   ).reshape(out_data.shape + xd.shape)
        return Tensor(jac.astype(_dtype_of(x), copy=False))

    return wrapper


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Node) else x


def _dtype_of(x: Any) -> Any:
    return x.data.dtype if isinstance(x, Tensor) else np.float64


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """The Hessian of a scalar ``f``: the (reverse-mode) Jacobian of its gradient."""
    return jacobian(grad(f, argnums), argnums)


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), H @ tangents)`` for a scalar ``f``, without forming the Hessian:
    the gradient of ``<grad f(x), v>`` (reverse over reverse).

    >>> import autograd_core as ag
    >>> _, hv = hvp(lambda x: (x ** 3).sum(), (ag.tensor([1.0, 2.0]),), (ag.tensor([1.0, 0.0]),))
    >>> hv[0].tolist()
    [6.0, 0.0]
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"hvp: got {len(tangents)} tangents for {len(primals)} primals")
    inputs, nested, out, _ = _call(f, primals, tuple(range(len(primals))), False)
    _scalar_output(out, "hvp")
    if not out.requires_grad:
        return _unwrap(out, nested), tuple(_zeros_like(x) for x in inputs)
    with enable_grad():
        gs = _grad(out, inputs, create_graph=True, allow_unused=True)
        total: Any = None
        for g, t in zip(gs, tangents, strict=True):
            if g is None or not _is_graph(g):
                continue
            term = g * t if isinstance(g, Scalar) else (g * _tensor_like(t, g)).sum()
            total = term if total is None else total + term
        if total is None:
            return _unwrap(out, nested), tuple(_zeros_like(x) for x in inputs)
        hv = _grad(total, inputs, create_graph=nested, allow_unused=True)
    return _unwrap(out, nested), tuple(
        _zeros_like(x) if h is None else _unwrap(h, nested)
        for h, x in zip(hv, inputs, strict=True))
