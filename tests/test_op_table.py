"""The op table: one row per op drives the forward, float32 and gradient tests of every op."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_core as ag
from autograd_core import engine, ops
from autograd_core.ops import _add_at, _normalise_index
from autograd_core.primitives import OPS
from autograd_core.testing import check_grads
from autograd_core.testing.strategies import broadcastable_shapes, scalars, shapes, tensors

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Row:
    """One op: ours, a numpy oracle, and how to draw its inputs."""

    fn: Callable[..., Any]  # ours: fn(*tensors, **params); calls the export as ops.<name>
    ref: Callable[..., Any]  # numpy oracle: ref(*arrays, **params)
    arity: int  # number of tensor inputs
    case: st.SearchStrategy  # -> (input shapes, params)
    meta: str | None = None  # the OPS entry whose domain, kinks and smooth2 apply
    scalar: tuple[Callable, Callable] | None = None  # (Scalar version, math oracle)
    check: dict[str, Any] = field(default_factory=dict)  # extra check_grads keywords


# ------------------------------------------------------------------ cases
def unary(**kw: Any) -> st.SearchStrategy:
    return shapes(**kw).map(lambda s: ((s,), {}))


def binary() -> st.SearchStrategy:
    return broadcastable_shapes(2).map(lambda ss: (ss, {}))


@st.composite
def axis_of(draw: Any, ndim: int, single: bool = False) -> Any:
    if single:
        return draw(st.integers(-ndim, ndim - 1))
    if ndim == 0:
        return None
    return draw(st.one_of(
        st.none(), st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)))


@st.composite
def reduction(draw: Any, single: bool = False, correction: bool = False,
              keepdims: bool = True) -> tuple:
    # var/std: every reduced axis has >= 2 elements, so correction=1 never divides by 0
    shape = draw(shapes(min_dims=1 if single or correction else 0,
                        min_side=2 if correction else 1))
    params: dict[str, Any] = {"axis": draw(axis_of(len(shape), single))}
    if keepdims:
        params["keepdims"] = draw(st.booleans())
    if correction:
        params["correction"] = draw(st.sampled_from([0, 1]))
    return (shape,), params


@st.composite
def clip_case(draw: Any) -> tuple:
    lo, hi = sorted(draw(st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.5, 1.5]), min_size=2,
                                  max_size=2, unique=True)))
    which = draw(st.sampled_from(["both", "min", "max"]))
    return (draw(shapes()),), {"min": None if which == "max" else lo,
                               "max": None if which == "min" else hi}


@st.composite
def where_case(draw: Any) -> tuple:
    cond_shape, *xy = draw(broadcastable_shapes(3))
    return tuple(xy), {"condition": draw(hnp.arrays(np.bool_, cond_shape))}


@st.composite
def reshape_case(draw: Any) -> tuple:
    shape = draw(shapes())
    size = math.prod(shape)
    new = draw(st.sampled_from([(size,), (-1,), shape[::-1], (1, *shape), (*shape, 1),
                                (size, 1), (1, -1)]))
    return (shape,), {"shape": new}


@st.composite
def permute_case(draw: Any) -> tuple:
    shape = draw(shapes())
    return (shape,), {"dims": tuple(draw(st.permutations(range(len(shape)))))}


@st.composite
def two_axes_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    return (shape,), {"dim0": draw(st.integers(-nd, nd - 1)),
                      "dim1": draw(st.integers(-nd, nd - 1))}


@st.composite
def flip_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    dims = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return (shape,), {"dims": tuple(d - nd if draw(st.booleans()) else d for d in dims)}


@st.composite
def roll_case(draw: Any) -> tuple:
    (shape,), params = draw(flip_case())
    shifts = tuple(draw(st.integers(-5, 5)) for _ in params["dims"])
    return (shape,), {"shifts": shifts, **params}


@st.composite
def one_axis_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    return (shape,), {"dim": draw(st.integers(-len(shape), len(shape) - 1))}


@st.composite
def triangle_case(draw: Any) -> tuple:
    return (draw(shapes(min_dims=2)),), {"diagonal": draw(st.integers(-2, 2))}


@st.composite
def repeat_case(draw: Any) -> tuple:
    shape = draw(shapes(max_dims=3, max_side=3))
    reps = tuple(draw(st.integers(0, 3)) for _ in range(len(shape) + draw(st.integers(0, 1))))
    return (shape,), {"repeats": reps}


@st.composite
def repeat_interleave_case(draw: Any) -> tuple:
    shape = draw(shapes(max_dims=3, max_side=3))
    nd = len(shape)
    dim = draw(st.one_of(st.none(), st.integers(-nd, nd - 1))) if nd else None
    return (shape,), {"repeats": draw(st.integers(0, 3)), "dim": dim}


@st.composite
def unflatten_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return (shape,), {"dim": dim, "sizes": draw(st.sampled_from([(1, -1), (-1, 1), (-1,)]))}


@st.composite
def diagonal_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=2, max_dims=3))
    nd = len(shape)
    dim1, dim2 = draw(st.permutations(range(nd)))[:2]
    return (shape,), {"offset": draw(st.integers(-2, 2)), "dim1": dim1, "dim2": dim2 - nd}


@st.composite
def diag_case(draw: Any) -> tuple:
    return (draw(shapes(min_dims=1, max_dims=2)),), {"diagonal": draw(st.integers(-2, 2))}


@st.composite
def meshgrid_case(draw: Any) -> tuple:
    return ((draw(st.integers(1, 4)),), (draw(st.integers(1, 4)),)), {
        "indexing": draw(st.sampled_from(["ij", "xy"]))}


@st.composite
def squeeze_case(draw: Any) -> tuple:
    shape = draw(shapes(max_side=2))
    ones = [i for i, s in enumerate(shape) if s == 1]
    axis = draw(st.one_of(st.none(), st.sampled_from(ones))) if ones else None
    return (shape,), {"axis": axis}


@st.composite
def unsqueeze_case(draw: Any) -> tuple:
    shape = draw(shapes())
    nd = len(shape) + 1
    return (shape,), {"dim": draw(st.integers(-nd, nd - 1))}


@st.composite
def flatten_case(draw: Any) -> tuple:
    shape = draw(shapes())
    nd = max(len(shape), 1)
    start = draw(st.integers(0, nd - 1))
    end = draw(st.integers(start, nd - 1))
    return (shape,), {"start_dim": start - nd * draw(st.booleans()), "end_dim": end}


@st.composite
def broadcast_case(draw: Any, minus_one: bool) -> tuple:
    shape = draw(shapes())
    target = np.broadcast_shapes(shape, draw(hnp.broadcastable_shapes(shape, max_dims=4)))
    if minus_one:  # torch's expand: -1 keeps an existing dimension
        lead = len(target) - len(shape)
        target = tuple(-1 if i >= lead and draw(st.booleans()) else s
                       for i, s in enumerate(target))
    return (shape,), {"shape": target}


def indices(shape: Shape, newaxis: bool = True) -> st.SearchStrategy:
    options = [hnp.basic_indices(shape, allow_newaxis=newaxis)]
    if shape:
        options += [hnp.integer_array_indices(shape), hnp.arrays(np.bool_, shape)]
    return st.one_of(*options)


@st.composite
def getitem_case(draw: Any) -> tuple:
    shape = draw(shapes())
    return (shape,), {"index": draw(indices(shape))}


@st.composite
def add_at_case(draw: Any) -> tuple:
    shape = draw(shapes())
    index = draw(indices(shape, newaxis=False))
    return (np.empty(shape)[index].shape,), {"index": index, "shape": shape}


@st.composite
def setitem_case(draw: Any) -> tuple:
    shape = draw(shapes())
    index = draw(indices(shape))
    target = np.empty(shape)[index].shape
    return (shape, target[draw(st.integers(0, len(target))):]), {"index": index}


@st.composite
def pad_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))  # numpy cannot pad a 0-d array either
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    return (shape,), {"pad_width": widths, "value": draw(st.sampled_from([0.0, -1.5]))}


@st.composite
def concat_case(draw: Any, n: int) -> tuple:
    base = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(base), len(base) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    return tuple(base[:axis % len(base)] + (s,) + base[axis % len(base) + 1:]
                 for s in sizes), {"dim": axis}


@st.composite
def stack_case(draw: Any) -> tuple:
    shape = draw(shapes())
    nd = len(shape) + 1
    return (shape,) * 3, {"dim": draw(st.integers(-nd, nd - 1))}


@st.composite
def split_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(0, len(shape) - 1))
    n = shape[dim]
    if draw(st.booleans()):
        sections: Any = draw(st.integers(1, n))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        sections = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    return (shape,), {"split_size_or_sections": sections, "dim": dim}


EINSUMS = ["ij,jk->ik", "bij,bjk->bik", "ii->", "ii->i", "ij->ji", "i,j->ij", "ij,ij->i",
           "ijk->", "bii->bi", "...ij,...jk->...ik", "ij,jk"]


@st.composite
def einsum_case(draw: Any, operands: int) -> tuple:
    """An equation of that many operands, and shapes for them."""
    equation = draw(st.sampled_from([e for e in EINSUMS
                                     if e.split("->")[0].count(",") == operands - 1]))
    size = {c: draw(st.integers(1, 3)) for c in "bijk"}
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    terms = equation.split("->")[0].split(",")
    shapes = [batch + tuple(size[c] for c in t.replace("...", "")) if "..." in t
              else tuple(size[c] for c in t) for t in terms]
    return tuple(shapes), {"equation": equation}


@st.composite
def clamp_case(draw: Any, lower: bool) -> tuple:
    bound = draw(st.sampled_from([-2.0, -0.5, 0.0, 0.5, 1.5]))
    return (draw(shapes()),), {"min": bound if lower else None, "max": None if lower else bound}


@st.composite
def values_case(draw: Any, *elements: st.SearchStrategy) -> tuple:
    """Broadcastable values, input i drawn from ``elements[i]``."""
    return tuple(draw(hnp.arrays(np.float64, s, elements=e)) for s, e in
                 zip(draw(broadcastable_shapes(len(elements))), elements, strict=True)), {}


@st.composite
def select_case(draw: Any) -> tuple:
    (shape,), params = draw(one_axis_case())
    n = shape[params["dim"]]
    return (shape,), {**params, "index": draw(st.integers(-n, n - 1))}


@st.composite
def narrow_case(draw: Any) -> tuple:
    (shape,), params = draw(one_axis_case())
    n = shape[params["dim"]]
    start = draw(st.integers(0, n))
    return (shape,), {**params, "start": start, "length": draw(st.integers(0, n - start))}


@st.composite
def index_select_case(draw: Any) -> tuple:
    (shape,), params = draw(one_axis_case())
    n = shape[params["dim"]]
    index = draw(hnp.arrays(np.int64, draw(st.integers(0, 4)), elements=st.integers(0, n - 1)))
    return (shape,), {**params, "index": index}


@st.composite
def movedim_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    k = draw(st.integers(1, nd))
    source = draw(st.permutations(range(nd)))[:k]
    destination = draw(st.permutations(range(nd)))[:k]
    return (shape,), {"source": tuple(source), "destination": tuple(destination)}


@st.composite
def diff_case(draw: Any) -> tuple:
    (shape,), params = draw(one_axis_case())
    return (shape,), {**params, "n": draw(st.integers(0, 2))}


@st.composite
def products_case(draw: Any, ndims: tuple[int, int]) -> tuple:
    b, n, m, p = (draw(st.integers(1, 3)) for _ in range(4))
    shapes_of = {(1, 1): ((m,), (m,)), (2, 2): ((n, m), (m, p)), (3, 3): ((b, n, m), (b, m, p)),
                 (2, 1): ((n, m), (m,)), (0, 0): ((n,), (p,))}
    return shapes_of[ndims], {}


@st.composite
def tensordot_case(draw: Any) -> tuple:
    a = draw(shapes(min_dims=1, max_dims=3))
    k = draw(st.integers(0, len(a)))
    b = a[len(a) - k:] + draw(shapes(max_dims=2))
    return (a, b), {"dims": k}


@st.composite
def stacked_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1, max_dims=3))
    return (shape, shape), {}


@st.composite
def chunk_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    return (shape,), {"chunks": draw(st.integers(1, 5)),
                      "dim": draw(st.integers(0, len(shape) - 1))}


@st.composite
def unfold_case(draw: Any) -> tuple:
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return (shape,), {"dimension": dim, "size": draw(st.integers(0, shape[dim])),
                      "step": draw(st.integers(1, 3))}


@st.composite
def windows_case(draw: Any, adjoint: bool) -> tuple:
    batch = draw(shapes(max_dims=2, max_side=2))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if not adjoint:
        return ((*batch, h, w),), {"kernel_size": kernel, "stride": stride}
    oh, ow = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
    return ((*batch, oh, ow, *kernel),), {"size": (h, w), "stride": stride}


@st.composite
def addmm_case(draw: Any) -> tuple:
    """matmul's operand shapes, and an input that broadcasts to the product's shape."""
    a, b = draw(broadcastable_shapes(2, max_dims=2, signature=np.matmul.signature))
    product = np.matmul(np.empty(a), np.empty(b)).shape
    c = draw(hnp.broadcastable_shapes(product, max_dims=len(product)).filter(
        lambda c: np.broadcast_shapes(c, product) == product))
    return (c, a, b), {}


@st.composite
def window_max_grad_case(draw: Any) -> tuple:
    """The gradient's shape, and an input whose windows often tie (values from {0, 1, 2})."""
    (shape,), params = draw(windows_case(adjoint=False))
    a = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0, 2.0])))
    out_shape = np_windows(a, params["kernel_size"], params["stride"]).shape[:-2]
    return (out_shape,), {"a": a, **params}


@st.composite
def sort_case(draw: Any) -> tuple:
    (shape,), params = draw(one_axis_case())
    return (shape,), {**params, "descending": draw(st.booleans())}


@st.composite
def topk_case(draw: Any) -> tuple:
    (shape,), params = draw(one_axis_case())
    n = shape[params["dim"]]
    return (shape,), {**params, "k": draw(st.integers(0, n)), "largest": draw(st.booleans())}


@st.composite
def index_along(draw: Any, shape: Shape, dim: int, full: bool = False) -> np.ndarray:
    """An index for gather/scatter along ``dim``: no larger than ``shape`` elsewhere (the
    same size with ``full``), values in range; repeats allowed."""
    size = tuple(s if full and k != dim % len(shape) else draw(st.integers(0, s))
                 for k, s in enumerate(shape))
    return draw(hnp.arrays(np.int64, size, elements=st.integers(0, shape[dim] - 1)))


@st.composite
def gather_case(draw: Any, full: bool = False) -> tuple:
    (shape,), params = draw(one_axis_case())
    return (shape,), {**params, "index": draw(index_along(shape, params["dim"], full))}


@st.composite
def scatter_case(draw: Any, reduce: Any = None, distinct: bool = False) -> tuple:
    """Input and src shapes (src at least the index's size), dim, index, and for
    scatter_reduce the mode and include_self."""
    (shape,), params = draw(gather_case())
    index = params["index"]
    src = tuple(s + draw(st.integers(0, 1)) for s in index.shape)
    if reduce is not None:
        params = {**params, "reduce": draw(reduce), "include_self": draw(st.booleans())}
    if distinct:  # no two values anywhere tie: amax / amin have kinks at ties
        grid = draw(st.permutations(range(math.prod(shape) + math.prod(src))))
        values = np.asarray(grid, dtype=np.float64) * 0.25 - 2.0
        return (values[:math.prod(shape)].reshape(shape),
                values[math.prod(shape):].reshape(src)), params
    return (shape, src), params


@st.composite
def masked_fill_case(draw: Any) -> tuple:
    shape = draw(shapes())
    mask_shape = draw(hnp.broadcastable_shapes(shape, max_dims=len(shape)).filter(
        lambda m: np.broadcast_shapes(m, shape) == shape))
    return (shape,), {"mask": draw(hnp.arrays(np.bool_, mask_shape)),
                      "value": draw(st.sampled_from([0.0, -1.5, 1e4]))}



def signed(low: float, high: float) -> st.SearchStrategy:
    """Floats with magnitude in [low, high] and either sign."""
    return st.tuples(st.floats(low, high), st.booleans()).map(lambda t: t[0] if t[1] else -t[0])


@st.composite
def nonzero_case(draw: Any) -> tuple:
    """Broadcastable values a margin from 0 (copysign: |a| has its kink there, b's sign
    jumps)."""
    return tuple(draw(hnp.arrays(np.float64, s, elements=signed(0.1, 3.0)))
                 for s in draw(broadcastable_shapes(2))), {}


@st.composite
def quotient_case(draw: Any) -> tuple:
    """Values a and b (b broadcast to a) with a/b a margin from every integer: remainder and
    fmod jump there."""
    shape = draw(shapes())
    b_shape = draw(hnp.broadcastable_shapes(shape, max_dims=len(shape)).filter(
        lambda b: np.broadcast_shapes(b, shape) == shape))
    b = draw(hnp.arrays(np.float64, b_shape, elements=signed(0.25, 3.0)))
    q = draw(hnp.arrays(np.float64, shape, elements=st.tuples(
        st.integers(-3, 3), st.floats(0.1, 0.9)).map(lambda t: t[0] + t[1])))
    return (np.asarray(q * b), b), {}

# ------------------------------------------------------------------ numpy oracles
def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))

def np_sort(x: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    out = np.sort(x, axis=dim)
    return np.flip(out, dim) if descending else out


def np_topk(x: np.ndarray, k: int, dim: int, largest: bool) -> np.ndarray:
    return np.take(np_sort(x, dim, largest), range(k), axis=dim)


def positions(index: np.ndarray, dim: int) -> Any:
    """For each position p of ``index``: p, and p with axis ``dim`` replaced by index[p]."""
    d = dim % index.ndim
    for p in np.ndindex(*index.shape):
        yield p, p[:d] + (int(index[p]),) + p[d + 1:]


def np_gather(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    out = np.empty(index.shape, x.dtype)
    for p, q in positions(index, dim):
        out[p] = x[q]
    return out


def np_scatter(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    out = x.copy()
    for p, q in positions(index, dim):  # in order: the last write to a position lands
        out[q] = src[p]
    return out


REDUCERS = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}


def np_scatter_reduce(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray,
                      reduce: str, include_self: bool) -> np.ndarray:
    """Position by position: the reduction of the sources sent there (and x's own value with
    include_self); untouched positions keep x."""
    sent: dict[tuple, list] = {}
    for p, q in positions(index, dim):
        sent.setdefault(q, [x[q]] if include_self else []).append(src[p])
    out = x.copy()
    for q, values in sent.items():
        out[q] = REDUCERS[reduce](values)
    return out


def np_masked_select(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return np.broadcast_to(x, shape)[np.broadcast_to(mask, shape)]



def np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_swapaxes(x: np.ndarray, dim0: int, dim1: int) -> np.ndarray:
    return np.swapaxes(x, dim0, dim1)


def np_flatten(x: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def np_expand(x: np.ndarray, shape: Shape) -> np.ndarray:
    lead = len(shape) - x.ndim
    return np.broadcast_to(x, tuple(x.shape[i - lead] if s == -1 else s
                                    for i, s in enumerate(shape)))


def np_add_at(g: np.ndarray, index: Any, shape: Shape) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


def np_setitem(x: np.ndarray, value: np.ndarray, index: Any) -> np.ndarray:
    out = x.copy()
    out[index] = value
    return out


def np_split(x: np.ndarray, split_size_or_sections: Any, dim: int) -> tuple:
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        cuts = list(range(split_size_or_sections, n, split_size_or_sections))
    else:
        cuts = list(np.cumsum(split_size_or_sections)[:-1])
    return tuple(np.split(x, cuts, axis=dim))


def np_unfold(x: np.ndarray, dimension: int, size: int, step: int) -> np.ndarray:
    """Slice by slice: the windows stacked on the unfolded axis, their elements last."""
    d = dimension % x.ndim
    n = x.shape[d]
    slices = [np.moveaxis(np.take(x, range(s, s + size), axis=d), d, -1)
              for s in range(0, n - size + 1, step)]
    return np.stack(slices, axis=d)


def np_windows(x: np.ndarray, kernel_size: Shape, stride: Shape) -> np.ndarray:
    view = np.lib.stride_tricks.sliding_window_view(x, kernel_size, axis=(-2, -1))
    return view[..., ::stride[0], ::stride[1], :, :]


def np_fold(g: np.ndarray, size: Shape, stride: Shape) -> np.ndarray:
    *batch, oh, ow, kh, kw = g.shape
    out = np.zeros((*batch, *size), dtype=g.dtype)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[..., i * stride[0] + a, j * stride[1] + b] += g[..., i, j, a, b]
    return out


def np_window_max(x: np.ndarray, kernel_size: Shape, stride: Shape) -> np.ndarray:
    return np_windows(x, kernel_size, stride).max(axis=(-2, -1))


def np_window_max_grad(g: np.ndarray, a: np.ndarray, kernel_size: Shape, stride: Shape
                       ) -> np.ndarray:
    """Window by window: its gradient split equally among the elements equal to its max."""
    windows = np_windows(a, kernel_size, stride)
    tied = windows == windows.max(axis=(-2, -1), keepdims=True)
    share = g[..., None, None] * tied / tied.sum(axis=(-2, -1), keepdims=True)
    return np_fold(share, a.shape[-2:], stride)


def s_clip(a: Any, min: Any, max: Any) -> Any:  # noqa: A002
    return a.clip(min, max)


def m_clip(a: float, min: Any, max: Any) -> float:  # noqa: A002
    return float(np.clip(a, min, max))


def np_erf(x: np.ndarray) -> np.ndarray:
    return np.array([math.erf(v) for v in np.ravel(x)]).reshape(np.shape(x))


def np_unflatten(x: np.ndarray, dim: int, sizes: tuple) -> np.ndarray:
    d = dim % x.ndim
    return np.reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def values_of(out: Any) -> Any:
    return out.values if isinstance(out, ops.ValuesIndices) else out


def m_sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


# ------------------------------------------------------------------ the table
U, B = unary(), binary()
TABLE: dict[str, Row] = {
    # elementwise primitives
    "add": Row(lambda a, b: ops.add(a, b), np.add, 2, B,
               scalar=(operator.add, operator.add)),
    "sub": Row(lambda a, b: ops.sub(a, b), np.subtract, 2, B,
               scalar=(operator.sub, operator.sub)),
    "mul": Row(lambda a, b: ops.mul(a, b), np.multiply, 2, B,
               scalar=(operator.mul, operator.mul)),
    "div": Row(lambda a, b: ops.div(a, b), np.divide, 2, B,
               scalar=(operator.truediv, operator.truediv)),
    "pow": Row(lambda a, b: ops.pow(a, b), np.power, 2, B, scalar=(operator.pow, math.pow)),
    "neg": Row(lambda x: ops.neg(x), np.negative, 1, U, scalar=(operator.neg, operator.neg)),
    "exp": Row(lambda x: ops.exp(x), np.exp, 1, U, scalar=(lambda a: a.exp(), math.exp)),
    "log": Row(lambda x: ops.log(x), np.log, 1, U, scalar=(lambda a: a.log(), math.log)),
    "log1p": Row(lambda x: ops.log1p(x), np.log1p, 1, U,
                 scalar=(lambda a: a.log1p(), math.log1p)),
    "sqrt": Row(lambda x: ops.sqrt(x), np.sqrt, 1, U, scalar=(lambda a: a.sqrt(), math.sqrt)),
    "sin": Row(lambda x: ops.sin(x), np.sin, 1, U, scalar=(lambda a: a.sin(), math.sin)),
    "cos": Row(lambda x: ops.cos(x), np.cos, 1, U, scalar=(lambda a: a.cos(), math.cos)),
    "tanh": Row(lambda x: ops.tanh(x), np.tanh, 1, U, scalar=(lambda a: a.tanh(), math.tanh)),
    "sigmoid": Row(lambda x: ops.sigmoid(x), np_sigmoid, 1, U,
                   scalar=(lambda a: a.sigmoid(), m_sigmoid)),
    "tan": Row(lambda x: ops.tan(x), np.tan, 1, U),
    "asin": Row(lambda x: ops.asin(x), np.arcsin, 1, U),
    "acos": Row(lambda x: ops.acos(x), np.arccos, 1, U),
    "atan": Row(lambda x: ops.atan(x), np.arctan, 1, U),
    "sinh": Row(lambda x: ops.sinh(x), np.sinh, 1, U),
    "cosh": Row(lambda x: ops.cosh(x), np.cosh, 1, U),
    "asinh": Row(lambda x: ops.asinh(x), np.arcsinh, 1, U),
    "acosh": Row(lambda x: ops.acosh(x), np.arccosh, 1, U),
    "atanh": Row(lambda x: ops.atanh(x), np.arctanh, 1, U),
    "erf": Row(lambda x: ops.erf(x), np_erf, 1, U),
    "exp2": Row(lambda x: ops.exp2(x), np.exp2, 1, U),
    "log2": Row(lambda x: ops.log2(x), np.log2, 1, U),
    "log10": Row(lambda x: ops.log10(x), np.log10, 1, U),
    "floor": Row(lambda x: ops.floor(x), np.floor, 1, U),
    "ceil": Row(lambda x: ops.ceil(x), np.ceil, 1, U),
    "trunc": Row(lambda x: ops.trunc(x), np.trunc, 1, U),
    "round": Row(lambda x: ops.round(x), np.round, 1, U),
    # rsqrt = x ** -0.5: log's domain (x > 0), no kinks
    "rsqrt": Row(lambda x: ops.rsqrt(x), lambda x: 1 / np.sqrt(x), 1, U, meta="log"),
    "remainder": Row(lambda a, b: ops.remainder(a, b), np.remainder, 2, quotient_case()),
    "fmod": Row(lambda a, b: ops.fmod(a, b), np.fmod, 2, quotient_case()),
    "floor_divide": Row(lambda a, b: ops.floor_divide(a, b), np.floor_divide, 2,
                        quotient_case()),
    # |a| with b's sign: abs's kink at a = 0; b only picks the sign
    "copysign": Row(lambda a, b: ops.copysign(a, b), np.copysign, 2, nonzero_case()),
    "clamp_min": Row(lambda x, min, max: ops.clamp_min(x, min),  # noqa: A006
                     lambda x, min, max: np.maximum(x, min), 1, clamp_case(True),  # noqa: A006
                     meta="clip"),
    "clamp_max": Row(lambda x, min, max: ops.clamp_max(x, max),  # noqa: A006
                     lambda x, min, max: np.minimum(x, max), 1, clamp_case(False),  # noqa: A006
                     meta="clip"),
    "expm1": Row(lambda x: ops.expm1(x), np.expm1, 1, U),
    "atan2": Row(lambda a, b: ops.atan2(a, b), np.arctan2, 2, B),
    "square": Row(lambda x: ops.square(x), np.square, 1, U),
    # 1/x: kept a margin from 0 (sign's kink there)
    "reciprocal": Row(lambda x: ops.reciprocal(x), np.reciprocal, 1, U, meta="sign"),
    # sqrt(a² + b²): a kept from 0 (abs's kink), so never at the origin
    "hypot": Row(lambda a, b: ops.hypot(a, b), np.hypot, 2, B, meta="abs"),
    "logit": Row(lambda x: ops.logit(x), lambda x: np.log(x / (1 - x)), 1,
                 values_case(st.floats(0.05, 0.95))),
    "xlogy": Row(lambda a, b: ops.xlogy(a, b), lambda a, b: np.where(a == 0, 0.0, a * np.log(b)),
                 # a = 0 (its own convention) is tested in test_torch_surface
                 2, values_case(signed(0.1, 3.0), st.floats(0.1, 3.0))),
    "frac": Row(lambda x: ops.frac(x), lambda x: x - np.trunc(x), 1, U, meta="trunc"),
    "deg2rad": Row(lambda x: ops.deg2rad(x), np.deg2rad, 1, U),
    "rad2deg": Row(lambda x: ops.rad2deg(x), np.rad2deg, 1, U),
    "nan_to_num": Row(lambda x: ops.nan_to_num(x), np.nan_to_num, 1, U),
    "addcmul": Row(lambda x, a, b: ops.addcmul(x, a, b, value=0.5),
                   lambda x, a, b: x + 0.5 * a * b, 3, broadcastable_shapes(3).map(
                       lambda ss: (ss, {}))),
    "addcdiv": Row(lambda x, a, b: ops.addcdiv(x, a, b, value=0.5),
                   lambda x, a, b: x + 0.5 * a / b, 3,
                   values_case(signed(0.1, 3.0), signed(0.1, 3.0), signed(0.1, 3.0))),
    "lerp": Row(lambda a, b, w: ops.lerp(a, b, w), lambda a, b, w: a + w * (b - a), 3,
                broadcastable_shapes(3).map(lambda ss: (ss, {}))),
    # logaddexp = maximum(a, b) + log1p(exp(-|a - b|)): maximum's ties are its kinks
    "logaddexp": Row(lambda a, b: ops.logaddexp(a, b), np.logaddexp, 2, B, meta="maximum"),
    "sign": Row(lambda x: ops.sign(x), np.sign, 1, U),
    "relu": Row(lambda x: ops.relu(x), lambda x: np.maximum(x, 0), 1, U,
                scalar=(lambda a: a.relu(), lambda a: max(a, 0.0))),
    "abs": Row(lambda x: ops.abs(x), np.abs, 1, U, scalar=(abs, abs)),
    "maximum": Row(lambda a, b: ops.maximum(a, b), np.maximum, 2, B,
                   scalar=(lambda a, b: a.maximum(b), max)),
    "minimum": Row(lambda a, b: ops.minimum(a, b), np.minimum, 2, B,
                   scalar=(lambda a, b: a.minimum(b), min)),
    "clip": Row(lambda x, min, max: ops.clip(x, min, max), np.clip, 1, clip_case(),  # noqa: A006
                scalar=(s_clip, m_clip)),
    "where": Row(lambda x, y, condition: ops.where(condition, x, y),
                 lambda x, y, condition: np.where(condition, x, y), 2, where_case()),
    # float32 output: finite differences at float32 precision need a coarser step
    "cast": Row(lambda x: ops.astype(x, np.float32), lambda x: x.astype(np.float32), 1, U,
                check={"eps": 1e-3, "atol": 1e-3}),
    # reductions
    "sum": Row(lambda x, axis, keepdims: ops.sum(x, axis, keepdims),
               lambda x, axis, keepdims: np.sum(x, axis, keepdims=keepdims), 1, reduction()),
    # over one int axis torch's max/min give (values, indices): the row takes the values
    "max": Row(lambda x, axis, keepdims: values_of(ops.max(x, axis=axis, keepdims=keepdims)),
               lambda x, axis, keepdims: np.max(x, axis, keepdims=keepdims), 1, reduction()),
    "min": Row(lambda x, axis, keepdims: values_of(ops.min(x, axis=axis, keepdims=keepdims)),
               lambda x, axis, keepdims: np.min(x, axis, keepdims=keepdims), 1, reduction()),
    "amax": Row(lambda x, axis, keepdims: ops.amax(x, axis, keepdims),
                lambda x, axis, keepdims: np.max(x, axis, keepdims=keepdims), 1, reduction(),
                meta="max"),
    "amin": Row(lambda x, axis, keepdims: ops.amin(x, axis, keepdims),
                lambda x, axis, keepdims: np.min(x, axis, keepdims=keepdims), 1, reduction(),
                meta="min"),
    # torch.max over one dim: the values (the indices are checked in test_torch_surface)
    "max_dim": Row(lambda x, dim: ops.max(x, dim).values,
                   lambda x, dim: np.max(x, dim), 1, one_axis_case(), meta="max"),
    "min_dim": Row(lambda x, dim: ops.min(x, dim).values,
                   lambda x, dim: np.min(x, dim), 1, one_axis_case(), meta="min"),
    "mean": Row(lambda x, axis, keepdims: ops.mean(x, axis, keepdims),
                lambda x, axis, keepdims: np.mean(x, axis, keepdims=keepdims), 1, reduction()),
    "var": Row(lambda x, axis, keepdims, correction: ops.var(x, axis, keepdims,
                                                             correction=correction),
               lambda x, axis, keepdims, correction: np.var(x, axis, ddof=correction,
                                                           keepdims=keepdims),
               1, reduction(correction=True)),
    # std = sqrt(var) has its kink where all reduced elements tie
    "std": Row(lambda x, axis, keepdims, correction: ops.std(x, axis, keepdims,
                                                             correction=correction),
               lambda x, axis, keepdims, correction: np.std(x, axis, ddof=correction,
                                                           keepdims=keepdims),
               1, reduction(correction=True), meta="max"),
    "logsumexp": Row(lambda x, axis, keepdims: ops.logsumexp(x, axis, keepdims), np_logsumexp,
                     1, reduction()),
    # norm = sqrt(sum(x * x)) has its kink where x = 0, as abs
    "norm": Row(lambda x, axis, keepdims: ops.norm(x, axis, keepdims),
                lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis, keepdims=keepdims)),
                1, reduction(), meta="abs"),
    "softmax": Row(lambda x, axis: ops.softmax(x, axis), np_softmax, 1,
                   reduction(single=True, keepdims=False)),
    "log_softmax": Row(lambda x, axis: ops.log_softmax(x, axis),
                       lambda x, axis: np.log(np_softmax(x, axis)), 1,
                       reduction(single=True, keepdims=False)),
    "var_mean": Row(lambda x, axis, keepdims, correction: ops.var_mean(
        x, axis, keepdims, correction=correction),
        lambda x, axis, keepdims, correction: (
            np.var(x, axis, ddof=correction, keepdims=keepdims),
            np.mean(x, axis, keepdims=keepdims)), 1, reduction(correction=True)),
    "std_mean": Row(lambda x, axis, keepdims, correction: ops.std_mean(
        x, axis, keepdims, correction=correction),
        lambda x, axis, keepdims, correction: (
            np.std(x, axis, ddof=correction, keepdims=keepdims),
            np.mean(x, axis, keepdims=keepdims)), 1, reduction(correction=True), meta="max"),
    "cumsum": Row(lambda x, dim: ops.cumsum(x, dim), lambda x, dim: np.cumsum(x, dim), 1,
                  one_axis_case()),
    "prod": Row(lambda x, axis, keepdims: ops.prod(x, axis, keepdims),
                lambda x, axis, keepdims: np.prod(x, axis, keepdims=keepdims), 1, reduction()),
    "cumprod": Row(lambda x, dim: ops.cumprod(x, dim), lambda x, dim: np.cumprod(x, dim), 1,
                   one_axis_case(), meta="prod"),
    "logcumsumexp": Row(lambda x, dim: ops.logcumsumexp(x, dim),
                        lambda x, dim: np.logaddexp.accumulate(x, dim), 1, one_axis_case()),
    # the values; the gradient goes to where each running extreme was found
    "cummax": Row(lambda x, dim: ops.cummax(x, dim).values,
                  lambda x, dim: np.maximum.accumulate(x, dim), 1, one_axis_case(), meta="max"),
    "cummin": Row(lambda x, dim: ops.cummin(x, dim).values,
                  lambda x, dim: np.minimum.accumulate(x, dim), 1, one_axis_case(), meta="min"),
    "sort": Row(lambda x, dim, descending: ops.sort(x, dim, descending).values, np_sort, 1,
                sort_case(), meta="max"),
    "topk": Row(lambda x, dim, k, largest: ops.topk(x, k, dim, largest).values,
                lambda x, dim, k, largest: np_topk(x, k, dim, largest), 1, topk_case(),
                meta="max"),
    "gather": Row(lambda x, dim, index: ops.gather(x, dim, index), np_gather, 1, gather_case()),
    "take_along_dim": Row(lambda x, dim, index: ops.take_along_dim(x, index, dim),
                          lambda x, dim, index: np.take_along_axis(x, index, dim), 1,
                          gather_case(full=True)),
    "scatter": Row(lambda x, src, dim, index: ops.scatter(x, dim, index, src), np_scatter, 2,
                   scatter_case()),
    "scatter_add": Row(lambda x, src, dim, index: ops.scatter_add(x, dim, index, src),
                       lambda x, src, dim, index: np_scatter_reduce(x, src, dim, index, "sum",
                                                                    True), 2, scatter_case()),
    "scatter_reduce": Row(
        lambda x, src, dim, index, reduce, include_self: ops.scatter_reduce(
            x, dim, index, src, reduce, include_self=include_self),
        np_scatter_reduce, 2, scatter_case(st.sampled_from(["sum", "mean"]))),
    # prod: src (input 1) a margin from 0 as prod's domain asks -- div's domain says just that
    "scatter_reduce_prod": Row(
        lambda x, src, dim, index, reduce, include_self: ops.scatter_reduce(
            x, dim, index, src, reduce, include_self=include_self),
        np_scatter_reduce, 2, scatter_case(st.just("prod")), meta="div"),
    # amax / amin: values drawn distinct (ties are kinks)
    "scatter_reduce_extreme": Row(
        lambda x, src, dim, index, reduce, include_self: ops.scatter_reduce(
            x, dim, index, src, reduce, include_self=include_self),
        np_scatter_reduce, 2, scatter_case(st.sampled_from(["amax", "amin"]), distinct=True)),
    "masked_fill": Row(lambda x, mask, value: ops.masked_fill(x, mask, value),
                       lambda x, mask, value: np.where(mask, value, x), 1, masked_fill_case()),
    "masked_select": Row(lambda x, mask, value: ops.masked_select(x, mask),
                         lambda x, mask, value: np_masked_select(x, mask), 1,
                         masked_fill_case()),
    # shapes
    "reshape": Row(lambda x, shape: ops.reshape(x, shape), np.reshape, 1, reshape_case()),
    "flip": Row(lambda x, dims: ops.flip(x, dims), lambda x, dims: np.flip(x, dims), 1,
                flip_case()),
    "roll": Row(lambda x, shifts, dims: ops.roll(x, shifts, dims),
                lambda x, shifts, dims: np.roll(x, shifts, dims), 1, roll_case()),
    "tril": Row(lambda x, diagonal: ops.tril(x, diagonal), lambda x, diagonal: np.tril(x, diagonal),
                1, triangle_case()),
    "triu": Row(lambda x, diagonal: ops.triu(x, diagonal), lambda x, diagonal: np.triu(x, diagonal),
                1, triangle_case()),
    "repeat": Row(lambda x, repeats: ops.repeat(x, *repeats),
                  lambda x, repeats: np.tile(x, repeats), 1, repeat_case()),
    "repeat_interleave": Row(lambda x, repeats, dim: ops.repeat_interleave(x, repeats, dim),
                             lambda x, repeats, dim: np.repeat(x, repeats, dim), 1,
                             repeat_interleave_case()),
    "unflatten": Row(lambda x, dim, sizes: ops.unflatten(x, dim, sizes),
                     lambda x, dim, sizes: np_unflatten(x, dim, sizes), 1, unflatten_case()),
    "diagonal": Row(lambda x, offset, dim1, dim2: ops.diagonal(x, offset, dim1, dim2),
                    lambda x, offset, dim1, dim2: np.diagonal(x, offset, dim1, dim2), 1,
                    diagonal_case()),
    "diag": Row(lambda x, diagonal: ops.diag(x, diagonal),
                lambda x, diagonal: np.diag(x, diagonal), 1, diag_case()),
    "meshgrid": Row(lambda a, b, indexing: ops.meshgrid(a, b, indexing=indexing),
                    lambda a, b, indexing: tuple(np.meshgrid(a, b, indexing=indexing)), 2,
                    meshgrid_case()),
    "permute": Row(lambda x, dims: ops.permute(x, dims), lambda x, dims: np.transpose(x, dims),
                   1, permute_case()),
    # the primitive behind permute; ops.transpose has torch's swap-two-axes semantics
    "transpose": Row(lambda x, dim0, dim1: ops.transpose(x, dim0, dim1), np_swapaxes, 1,
                     two_axes_case()),
    "swapaxes": Row(lambda x, dim0, dim1: ops.swapaxes(x, dim0, dim1), np_swapaxes, 1,
                    two_axes_case()),
    "squeeze": Row(lambda x, axis: ops.squeeze(x, axis), np.squeeze, 1, squeeze_case()),
    "unsqueeze": Row(lambda x, dim: ops.unsqueeze(x, dim), lambda x, dim: np.expand_dims(x, dim), 1,
                     unsqueeze_case()),
    "flatten": Row(lambda x, start_dim, end_dim: ops.flatten(x, start_dim, end_dim),
                   np_flatten, 1, flatten_case()),
    "expand": Row(lambda x, shape: ops.expand(x, shape), np_expand, 1,
                  broadcast_case(minus_one=True)),
    "broadcast_to": Row(lambda x, shape: ops.broadcast_to(x, shape), np.broadcast_to, 1,
                        broadcast_case(minus_one=False)),
    "getitem": Row(lambda x, index: ops.getitem(x, index), lambda x, index: x[index], 1,
                   getitem_case()),
    # not exported: the adjoint of getitem, applied as getitem's rule applies it
    "add_at": Row(lambda g, index, shape: _add_at(g, *_normalise_index(index), shape),
                   np_add_at, 1, add_at_case()),
    "setitem": Row(lambda x, value, index: ops.setitem(x, index, value), np_setitem, 2,
                   setitem_case()),
    "pad": Row(lambda x, pad_width, value: ops.pad(x, pad_width, value),
               lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
               1, pad_case()),
    "matmul": Row(lambda a, b: ops.matmul(a, b), np.matmul, 2,
                  broadcastable_shapes(2, max_dims=2, signature=np.matmul.signature).map(
                      lambda ss: (ss, {}))),
    "addmm": Row(lambda c, a, b: ops.addmm(c, a, b), lambda c, a, b: c + np.matmul(a, b), 3,
                 addmm_case()),
    "concat": Row(lambda *xs, dim: ops.cat(list(xs), dim),
                  lambda *xs, dim: np.concatenate(xs, axis=dim), 3, concat_case(3)),
    "concatenate": Row(lambda *xs, dim: ops.concatenate(list(xs), dim),
                       lambda *xs, dim: np.concatenate(xs, axis=dim), 2, concat_case(2)),
    "stack": Row(lambda *xs, dim: ops.stack(list(xs), dim),
                 lambda *xs, dim: np.stack(xs, axis=dim), 3, stack_case()),
    "einsum": Row(lambda *xs, equation: ops.einsum(equation, *xs),
                  lambda *xs, equation: np.einsum(equation, *xs), 1, einsum_case(1)),
    "einsum2": Row(lambda *xs, equation: ops.einsum(equation, *xs),
                   lambda *xs, equation: np.einsum(equation, *xs), 2, einsum_case(2)),
    "unbind": Row(lambda x, dim: ops.unbind(x, dim), lambda x, dim: tuple(np.moveaxis(x, dim, 0)),
                  1, one_axis_case()),
    "select": Row(lambda x, dim, index: ops.select(x, dim, index),
                  lambda x, dim, index: np.take(x, index, axis=dim), 1, select_case()),
    "narrow": Row(lambda x, dim, start, length: ops.narrow(x, dim, start, length),
                  lambda x, dim, start, length: np.take(x, range(start, start + length), dim),
                  1, narrow_case()),
    "index_select": Row(lambda x, dim, index: ops.index_select(x, dim, index),
                        lambda x, dim, index: np.take(x, index, axis=dim), 1,
                        index_select_case()),
    "movedim": Row(lambda x, source, destination: ops.movedim(x, source, destination),
                   lambda x, source, destination: np.moveaxis(x, source, destination), 1,
                   movedim_case()),
    "tile": Row(lambda x, repeats: ops.tile(x, repeats[x.ndim:] if len(repeats) > x.ndim
                                            else repeats),
                lambda x, repeats: np.tile(x, repeats[x.ndim:] if len(repeats) > x.ndim
                                           else repeats), 1, repeat_case()),
    "hstack": Row(lambda a, b: ops.hstack([a, b]), lambda a, b: np.hstack([a, b]), 2,
                  stacked_case()),
    "vstack": Row(lambda a, b: ops.vstack([a, b]), lambda a, b: np.vstack([a, b]), 2,
                  stacked_case()),
    "diff": Row(lambda x, dim, n: ops.diff(x, n, dim), lambda x, dim, n: np.diff(x, n, dim), 1,
                diff_case()),
    "trace": Row(lambda x: ops.trace(x), np.trace, 1,
                 st.integers(1, 4).map(lambda n: (((n, n),), {}))),
    "nansum": Row(lambda x, axis, keepdims: ops.nansum(x, axis, keepdims),
                  lambda x, axis, keepdims: np.nansum(x, axis, keepdims=keepdims), 1,
                  reduction()),
    "nanmean": Row(lambda x, axis, keepdims: ops.nanmean(x, axis, keepdims),
                   lambda x, axis, keepdims: np.nanmean(x, axis, keepdims=keepdims), 1,
                   reduction()),
    "dot": Row(lambda a, b: ops.dot(a, b), np.dot, 2, products_case((1, 1))),
    "mm": Row(lambda a, b: ops.mm(a, b), np.matmul, 2, products_case((2, 2))),
    "bmm": Row(lambda a, b: ops.bmm(a, b), np.matmul, 2, products_case((3, 3))),
    "mv": Row(lambda a, b: ops.mv(a, b), np.matmul, 2, products_case((2, 1))),
    "outer": Row(lambda a, b: ops.outer(a, b), np.outer, 2, products_case((0, 0))),
    "tensordot": Row(lambda a, b, dims: ops.tensordot(a, b, dims),
                     lambda a, b, dims: np.tensordot(a, b, dims), 2, tensordot_case()),
    "chunk": Row(lambda x, chunks, dim: ops.chunk(x, chunks, dim),
                 lambda x, chunks, dim: np_split(x, -(-x.shape[dim] // chunks), dim), 1,
                 chunk_case()),
    "unfold": Row(lambda x, dimension, size, step: ops.unfold(x, dimension, size, step),
                  np_unfold, 1, unfold_case()),
    "split": Row(lambda x, split_size_or_sections, dim: ops.split(x, split_size_or_sections,
                                                                  dim),
                 np_split, 1, split_case()),
    "windows": Row(lambda x, kernel_size, stride: ops.sliding_windows(x, kernel_size, stride),
                   np_windows, 1, windows_case(adjoint=False)),
    "fold": Row(lambda g, size, stride: ops.fold_windows(g, size, stride), np_fold, 1,
                windows_case(adjoint=True)),
    "window_max": Row(lambda x, kernel_size, stride: ops.window_max(x, kernel_size, stride),
                      np_window_max, 1, windows_case(adjoint=False)),
    # not exported: window_max's backward as a recorded op (for create_graph), linear in g
    "window_max_grad": Row(
        lambda g, a, kernel_size, stride: ops._window_max_grad(
            g, a, np_window_max(a, kernel_size, stride), kernel_size, stride),
        np_window_max_grad, 1, window_max_grad_case()),
}
# Exported names whose row is another name's row (the row calls them), and plain aliases.
SAME_ROW = {"cat": "concat", "astype": "cast", "sliding_windows": "windows",
            "fold_windows": "fold"}
ALIASES = {"clamp": "clip", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
           "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "fix": "trunc",
           "arctan2": "atan2", "moveaxis": "movedim"}
NOT_DIFFERENTIABLE = {"argmax", "argmin", "isnan", "isinf", "isfinite", "logical_not",
                      "logical_and", "logical_or", "logical_xor", "isclose", "allclose", "any",
                      "all", "argsort", "nonzero", "signbit", "count_nonzero", "bitwise_and",
                      "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
                      "bitwise_right_shift"}
BITWISE = {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
           "bitwise_right_shift"}  # binary, on integer tensors
BINARY_PREDICATES = {"logical_and", "logical_or", "logical_xor", "isclose", "allclose",
                     *BITWISE}
CONSTRUCTORS = {"zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn",
                "rand", "empty", "empty_like", "full_like", "linspace", "randint"}


def meta_of(name: str) -> str | None:
    row = TABLE[name]
    return row.meta if row.meta is not None else name if name in OPS else None


def second_order(name: str) -> bool:
    meta = meta_of(name)
    return meta is None or OPS[meta].smooth2


def kink_bounds(name: str, params: dict[str, Any]) -> tuple | None:
    """The kink points of a kinks="bounds" op: clip's min and max (as torch.clamp)."""
    meta = meta_of(name)
    return (params["min"], params["max"]) if meta and OPS[meta].kinks == "bounds" else None


@st.composite
def row_inputs(draw: Any, name: str, dtype: Any) -> tuple[list[ag.Tensor], dict[str, Any]]:
    """The row's case, and tensors respecting the domain and kinks of its metadata."""
    row = TABLE[name]
    input_shapes, params = draw(row.case)
    assert len(input_shapes) == row.arity
    # A case may give an input's values instead of its shape (values that must relate).
    xs = [ag.Tensor(s.astype(dtype), requires_grad=True) if isinstance(s, np.ndarray) else
          draw(tensors(shape=s, dtype=dtype, op=meta_of(name), input=i,
                       bounds=kink_bounds(name, params)))
          for i, s in enumerate(input_shapes)]
    return xs, params


def as_list(y: Any) -> list:
    return list(y) if isinstance(y, tuple) else [y]


NAMES = sorted(TABLE)
SCALAR_NAMES = sorted(n for n in TABLE if TABLE[n].scalar is not None)


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_matches_numpy_and_gradients_match_finite_differences(name: str, data: Any
                                                                      ) -> None:
    row = TABLE[name]
    xs, params = data.draw(row_inputs(name, np.float64))
    outs = as_list(row.fn(*xs, **params))
    expected = as_list(row.ref(*[x.numpy() for x in xs], **params))
    assert len(outs) == len(expected)
    for out, exp in zip(outs, expected, strict=True):
        assert out.shape == np.shape(exp)
        assert out.dtype == np.asarray(exp).dtype
        np.testing.assert_allclose(out.numpy(), exp, rtol=1e-10, atol=1e-12)

    def f(*inputs: ag.Tensor) -> Any:
        return row.fn(*inputs, **params)

    f.__qualname__ = name
    check_grads(f, *xs, order=2 if second_order(name) else 1, **row.check)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_float32_in_float32_out_and_float32_grads(name: str, data: Any) -> None:
    row = TABLE[name]
    xs, params = data.draw(row_inputs(name, np.float32))
    outs = as_list(row.fn(*xs, **params))
    expected = as_list(row.ref(*[x.numpy().astype(np.float64) for x in xs], **params))
    for out, exp in zip(outs, expected, strict=True):
        assert out.dtype == np.float32, f"{name}: float32 inputs gave a {out.dtype} output"
        np.testing.assert_allclose(out.numpy(), exp, rtol=1e-4, atol=1e-5)
    live = [o for o in outs if o.requires_grad]
    grads = ag.grad(live, xs, grad_outputs=[np.ones(o.shape, np.float32) for o in live],
                    allow_unused=True)
    for x, g in zip(xs, grads, strict=True):
        if g is not None:
            assert g.dtype == np.float32, f"{name}: float32 input got a {g.dtype} gradient"
            assert g.shape == x.shape
            assert np.all(np.isfinite(g.numpy()))


@pytest.mark.parametrize("name", SCALAR_NAMES)
@given(data=st.data())
def test_scalar_forward_matches_math_and_gradients_match(name: str, data: Any) -> None:
    row = TABLE[name]
    assert row.scalar is not None
    ours, oracle = row.scalar
    _, params = data.draw(row.case, label="case")  # the shapes do not apply to Scalars
    xs = [data.draw(scalars(meta_of(name), i, bounds=kink_bounds(name, params)),
                    label=f"input {i}") for i in range(row.arity)]
    out = ours(*xs, **params)
    assert isinstance(out, ag.Scalar)
    assert math.isclose(out.data, oracle(*[x.data for x in xs], **params), rel_tol=1e-12,
                        abs_tol=1e-300)

    def f(*inputs: ag.Scalar) -> Any:
        return ours(*inputs, **params)

    f.__qualname__ = f"Scalar {name}"
    check_grads(f, *xs, order=2 if second_order(name) else 1)


ELEMENTWISE = sorted(n for n, op in OPS.items() if op.elementwise)


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(data=st.data())
def test_an_elementwise_op_keeps_its_inputs_shape_and_dtype(name: str, data: Any) -> None:
    """The driver trusts ``Op.elementwise`` and skips unbroadcast after such an op: hold
    each one to the claim, in three float dtypes, with and without create_graph."""
    op = OPS[name]
    assert len(op.vjps) == 1
    dtype = data.draw(st.sampled_from([np.float16, np.float32, np.float64]), label="dtype")
    x = data.draw(tensors(dtype=dtype, op=name), label="x")
    y = ops._unary(op, x)
    assert (y.shape, y.dtype) == (x.shape, x.dtype)
    rule_result = op.vjps[0](x._plain_ns, np.ones_like(y.data), y.data, None, x.data)
    assert (np.shape(rule_result), rule_result.dtype) == (x.shape, x.dtype)
    for create_graph in (False, True):
        (gx,) = ag.grad(y, x, grad_outputs=ag.Tensor(np.ones_like(y.data)),
                        retain_graph=True, create_graph=create_graph)
        assert (gx.shape, gx.dtype) == (x.shape, x.dtype), create_graph


def test_cast_sends_the_gradient_back_in_the_input_dtype() -> None:
    x = ag.tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = ops.astype(x, np.float32)
    assert y.dtype == np.float32 and y.op_name == "cast"
    (y * ag.tensor([2.0, 3.0])).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])


def test_setitem_with_a_repeated_index_gives_gradient_only_to_the_value_that_lands() -> None:
    # found by the table: x[[0, 0]] = v keeps v[1] only, so v[0] must get no gradient
    x = ag.tensor(np.zeros(2), requires_grad=True)
    v = ag.tensor(np.array([5.0, 7.0]), requires_grad=True)
    y = ops.setitem(x, np.array([0, 0]), v)
    assert y.tolist() == [7.0, 0.0]
    (y * ag.tensor(np.array([2.0, 3.0]))).sum().backward()
    assert v.grad.tolist() == [0.0, 2.0] and x.grad.tolist() == [0.0, 3.0]


# ------------------------------------------------------------------ coverage of the table
# Ops whose row needs more than one array library or process: moving between libraries
# (tests/test_backends.py) and the sum over MPI ranks (tests/test_distributed.py).
OTHER_LIBRARY_OPS = {"to", "all_reduce"}


def test_every_primitive_has_a_row() -> None:
    assert sorted(set(OPS) - set(TABLE) - OTHER_LIBRARY_OPS) == []


def test_every_export_is_in_the_table_or_listed_as_not_differentiable() -> None:
    listed = set(SAME_ROW) | set(ALIASES) | NOT_DIFFERENTIABLE | CONSTRUCTORS
    assert sorted(set(ops.__all__) - set(TABLE) - listed) == []
    assert sorted(listed - set(ops.__all__)) == []
    for alias, name in ALIASES.items():
        assert getattr(ops, alias) is getattr(ops, name)


FIRST_FOUND = settings(phases=[Phase.generate], max_examples=50, database=None)


def recorded_ops(outs: list[ag.Tensor]) -> set[str]:
    order, _ = engine.toposort([o for o in outs if o.requires_grad])
    return {n.op_name for n in order if n._op is not None}


@pytest.mark.parametrize("name", sorted(set(OPS) - OTHER_LIBRARY_OPS))
def test_primitive_rows_record_their_primitive(name: str) -> None:
    def records(case: tuple) -> bool:
        xs, params = case
        return name in recorded_ops(as_list(TABLE[name].fn(*xs, **params)))

    find(row_inputs(name, np.float64), records, settings=FIRST_FOUND)  # or NoSuchExample


@pytest.mark.parametrize(
    "name", sorted(set(ops.__all__) - set(ALIASES) - NOT_DIFFERENTIABLE - CONSTRUCTORS))
def test_exported_ops_are_called_by_their_row(name: str) -> None:
    row_name = SAME_ROW.get(name, name)
    xs, params = find(row_inputs(row_name, np.float64), lambda case: True,
                      settings=FIRST_FOUND)
    calls = []
    real = getattr(ops, name)

    def spy(*args: Any, **kw: Any) -> Any:
        calls.append(name)
        return real(*args, **kw)

    setattr(ops, name, spy)
    try:
        TABLE[row_name].fn(*xs, **params)
    finally:
        setattr(ops, name, real)
    assert calls, f"the row {row_name!r} does not call ops.{name}"


@pytest.mark.parametrize("name", sorted(NOT_DIFFERENTIABLE))
def test_not_differentiable_exports_record_nothing(name: str) -> None:
    if name in BITWISE or name == "bitwise_not":  # integers: they never require grad
        x = ag.tensor([[1, 2], [3, 0]])
        with pytest.raises(TypeError, match=f"{name}: needs integer or boolean tensors"):
            getattr(ops, name)(*(x * 1.5,) * (1 + (name in BITWISE)))
    else:
        x = ag.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True)
    out = getattr(ops, name)(*(x, x * 2) if name in BINARY_PREDICATES else (x,))
    if name == "allclose":  # a Python bool, as torch.allclose
        assert out is False
        return
    assert not out.requires_grad and out.is_leaf


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_a_compiled_step_of_each_op_replays_eager_bit_for_bit(name: str, data: Any) -> None:
    """ag.compile on one op and a backward: for new inputs of the same shapes each replay
    (from the third call on) equals eager bit for bit, values and gradients."""
    row = TABLE[name]
    input_shapes, params = data.draw(row.case)

    def inputs() -> list[ag.Tensor]:
        return [ag.Tensor(s, requires_grad=True) if isinstance(s, np.ndarray) else
                data.draw(tensors(shape=s, dtype=np.float64, op=meta_of(name), input=i,
                                  bounds=kink_bounds(name, params)))
                for i, s in enumerate(input_shapes)]

    def step(*xs: ag.Tensor) -> Any:
        outs = [o for o in as_list(row.fn(*xs, **params)) if o.requires_grad]
        loss = sum(((o * o).sum() for o in outs), ag.tensor(0.0, dtype=np.float64))
        if loss.requires_grad:
            loss.backward()
        return loss

    compiled = ag.compile(step)
    for _ in range(4):
        xs = inputs()
        twins = [ag.as_tensor(x.data).requires_grad_() for x in xs]  # the same layout
        got = compiled(*xs)
        want = step(*twins)
        assert np.array_equal(got.data, want.data, equal_nan=True), name
        for x, t in zip(xs, twins, strict=True):
            assert (x.grad is None) == (t.grad is None), name
            if x.grad is not None:
                assert np.array_equal(x.grad.data, t.grad.data, equal_nan=True), name
