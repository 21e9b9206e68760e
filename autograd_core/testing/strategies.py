"""Hypothesis strategies: shapes, broadcastable shapes, tensors (also strided), scalars, elements.

Element strategies read an op's metadata in ``autograd_core.primitives.OPS`` (or of any `Op`
you define): ``domain`` (``"positive"``, ``"nonzero"``, ``"gt_minus_one"``, ``"gt_one"``,
``"open_unit"`` for -1 < x < 1) limits the values, ``kinks`` keeps them a ``margin`` away
from non-differentiable points -- points per input (relu and abs at 0), ``"bounds"``
(clip's ``min``/``max``, passed as ``bounds=``) or ``"ties"`` (maximum / max: values are
drawn from a grid, each input on its own offset, and a reduction's input without repeats,
so no two values compared by the op are closer than the grid spacing).  Finite differences
then never straddle a kink, and no test hand-shifts inputs.

>>> from hypothesis import given, settings
>>> from autograd_core.testing import check_grads
>>> @settings(max_examples=10, deadline=None)
... @given(tensors(shape=shapes(max_dims=2), op="log"))
... def test_log(x):
...     assert (x.numpy() > 0).all()
...     check_grads(lambda t: t.log(), x)
>>> test_log()
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - hypothesis is a test-time dependency
    raise ImportError("autograd_core.testing.strategies needs hypothesis: "
                      "pip install hypothesis") from exc

from ..engine import Op
from ..primitives import OPS
from ..scalar import Scalar
from ..tensor import Tensor, _leaf

__all__ = ["broadcastable_shapes", "elements", "scalars", "shapes", "tensors"]

MIN_VALUE, MAX_VALUE, MARGIN = -3.0, 3.0, 0.1
# Values compared by a "ties" op sit on a grid this fraction of the margin apart: far more
# than a finite-difference step, and fine enough to give hundreds of distinct values.
TIE_GRID = 0.25


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
           ) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes; 0-d (a scalar tensor) included by default.

    >>> from hypothesis import find
    >>> find(shapes(min_dims=2), lambda shape: True)  # the simplest such shape
    (1, 1)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(n: int = 2, *, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4, signature: str | None = None
                         ) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``n`` mutually broadcastable shapes (new leading axes and size-1 axes both occur),
    via ``hypothesis.extra.numpy.mutually_broadcastable_shapes``.  With a gufunc
    ``signature`` (e.g. ``np.matmul.signature``) the core dimensions follow it.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5)
    ... @given(broadcastable_shapes(3))
    ... def test(ss):
    ...     assert len(ss) == 3 and np.broadcast_shapes(*ss) is not None
    >>> test()
    """
    kw: dict[str, Any] = {"num_shapes": n} if signature is None else {"signature": signature}
    return hnp.mutually_broadcastable_shapes(
        **kw, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda result: tuple(result.input_shapes))


def _op(op: str | Op | None) -> Op | None:
    if op is None or isinstance(op, Op):
        return op
    if op not in OPS:
        raise ValueError(f"strategies: unknown op {op!r}; known ops: {', '.join(sorted(OPS))}")
    return OPS[op]


def _arity(op: Op) -> int:
    return len(op.vjps)


def elements(op: str | Op | None = None, input: int = 0, *,  # noqa: A002
             min_value: float = MIN_VALUE, max_value: float = MAX_VALUE,
             margin: float = MARGIN, bounds: tuple[float | None, float | None] | None = None,
             dtype: Any = np.float64) -> st.SearchStrategy[float]:
    """Floats in ``[min_value, max_value]`` inside the declared domain of ``op``'s input
    ``input`` and at least ``margin`` from its kinks (see the module docstring).

    ``bounds`` gives the kink points of a ``kinks="bounds"`` op (clip's ``min``, ``max``).
    Values are exactly representable in ``dtype``.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(elements("relu"), elements("log"), elements("div", input=1))
    ... def test(r, l, d):
    ...     assert abs(r) >= 0.1 and l >= 0.1 and abs(d) >= 0.1
    >>> test()
    """
    meta = _op(op)
    lo, hi, points = float(min_value), float(max_value), []
    ties = False
    if meta is not None:
        domain = meta.domain.get(input)
        if domain == "positive":
            lo = max(lo, margin)
        elif domain == "gt_minus_one":
            lo = max(lo, -1.0 + margin)
        elif domain == "gt_one":
            lo = max(lo, 1.0 + margin)
        elif domain == "open_unit":
            lo, hi = max(lo, -1.0 + margin), min(hi, 1.0 - margin)
        elif domain == "nonzero":
            points.append(0.0)
        elif domain is not None:
            raise ValueError(f"elements: op '{meta.name}' declares an unknown domain "
                             f"{domain!r} for input {input}")
        kinks = meta.kinks
        if kinks == "bounds":
            if bounds is None:
                raise ValueError(f"elements: op '{meta.name}' has kinks at its bounds; pass "
                                 f"bounds=(min, max)")
            points.extend(b for b in bounds if b is not None)
        elif kinks == "ties":
            ties = True
        elif isinstance(kinks, dict):
            points.extend(kinks.get(input, ()))
    intervals = _cut([(lo, hi)], points, margin)
    if not intervals:
        raise ValueError(f"elements: no values in [{min_value}, {max_value}] are at least "
                         f"{margin} from the kinks {points} of op '{meta and meta.name}'")
    if ties:
        values = _grid(intervals, margin * TIE_GRID, input, _arity(meta) if meta else 1)
    else:
        values = st.one_of(*[st.floats(a, b) for a, b in intervals])
    dt = np.dtype(dtype)
    return values if dt == np.float64 else values.map(lambda v: float(dt.type(v)))


_elements = elements  # `tensors` has an argument of the same name


def _cut(intervals: list[tuple[float, float]], points: list[float], margin: float
         ) -> list[tuple[float, float]]:
    """``intervals`` minus the open ``margin``-neighbourhood of every point."""
    for p in points:
        pieces = []
        for a, b in intervals:
            if a < p - margin:
                pieces.append((a, min(b, p - margin)))
            if b > p + margin:
                pieces.append((max(a, p + margin), b))
        intervals = pieces
    return intervals


def _grid(intervals: list[tuple[float, float]], spacing: float, input: int, arity: int  # noqa: A002
          ) -> st.SearchStrategy[float]:
    """Grid points ``(k + input / arity) * spacing``: two inputs of a binary op never tie."""
    offset = spacing * input / arity
    parts = []
    for a, b in intervals:
        k_lo, k_hi = math.ceil((a - offset) / spacing), math.floor((b - offset) / spacing)
        if k_lo <= k_hi:
            parts.append(st.integers(k_lo, k_hi).map(lambda k: k * spacing + offset))
    return st.one_of(*parts)


def _noncontiguous(draw: Any, values: np.ndarray) -> np.ndarray:
    """A transposed, strided or reversed view holding ``values`` (only arrays with at least
    one axis longer than 1 can be non-contiguous: numpy calls the others contiguous)."""
    axes = [i for i, s in enumerate(values.shape) if s > 1]
    if not axes:
        return values
    kind = draw(st.sampled_from(("transposed", "strided", "reversed")))
    if kind == "transposed" and len(axes) >= 2:
        return np.ascontiguousarray(values.T).T
    axis = draw(st.sampled_from(axes))
    if kind == "reversed":
        return np.flip(np.flip(values, axis).copy(), axis)
    wide = list(values.shape)
    wide[axis] *= 2
    every_other = (slice(None),) * axis + (slice(None, None, 2),)
    buffer = np.zeros(wide, dtype=values.dtype)
    buffer[every_other] = values
    return buffer[every_other]


def _draw(draw: Any, x: Any) -> Any:
    return draw(x) if isinstance(x, st.SearchStrategy) else x


@st.composite
def tensors(draw: Any, shape: Any = None, *, dtype: Any = np.float64, elements: Any = None,
            requires_grad: bool = True, contiguous: bool | None = None,
            op: str | Op | None = None, input: int = 0, unique: bool | None = None,  # noqa: A002
            bounds: tuple[float | None, float | None] | None = None) -> Tensor:
    """Tensors of ``shape`` (a tuple or a strategy; default `shapes()`) and ``dtype``
    (float64 by default, for gradient checks; also a strategy).

    ``elements``: a strategy for the values; by default `elements` for input ``input`` of
    ``op`` (with clip's ``bounds``), which also makes a ``"ties"`` reduction's values unique.
    ``contiguous``: True for C-contiguous arrays only, False for always a transposed,
    strided or reversed view (when the shape allows one), None for either.
    ``requires_grad`` is True by default: these tensors are made for gradient tests.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10)
    ... @given(tensors(shape=(3, 2), dtype=np.float32, contiguous=False))
    ... def test(x):
    ...     assert x.dtype == np.float32 and not x.numpy().flags.c_contiguous
    >>> test()
    """
    dt = np.dtype(_draw(draw, dtype))
    shape = _draw(draw, shapes() if shape is None else shape)
    meta = _op(op)
    if elements is None:
        elements = _elements(meta, input, dtype=dt, bounds=bounds)
    if unique is None:
        unique = meta is not None and meta.kinks == "ties" and _arity(meta) == 1
    values = draw(hnp.arrays(dt, shape, elements=elements, unique=unique))
    if contiguous is None:
        contiguous = not draw(st.booleans())
    if not contiguous:
        values = _noncontiguous(draw, values)
    return _leaf(values, requires_grad=requires_grad)  # keeps the drawn memory layout


def scalars(op: str | Op | None = None, input: int = 0, *, requires_grad: bool = True,  # noqa: A002
            **kw: Any) -> st.SearchStrategy[Scalar]:
    """`Scalar` nodes with values from `elements` (same keywords: ``min_value``,
    ``max_value``, ``margin``, ``bounds``).

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10)
    ... @given(scalars("sqrt"))
    ... def test(s):
    ...     assert s.data >= 0.1 and s.requires_grad
    >>> test()
    """
    return elements(op, input, **kw).map(lambda v: Scalar(v, requires_grad=requires_grad))
