"""einsum and the named products (dot, mm, bmm, mv, outer, tensordot, addcmul): batched
matmuls and elementwise ops, so their gradients are those ops' rules."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .errors import OpError
from .ops import (
    _t,
    add,
    broadcast_to,
    diagonal,
    div,
    matmul,
    mul,
    permute,
    reshape,
    unsqueeze,
)
from .ops import (
    sum as sum_over,
)
from .tensor import Tensor


def _einsum_terms(equation: str, ts: list[Tensor]) -> tuple[list[str], str]:
    """The equation's input terms and output, with each ``...`` spelled out as letters of
    its own (right-aligned across operands, as broadcasting) and the implicit output (the
    letters that appear once, sorted, after the ellipsis) made explicit."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ts):
        raise OpError(f"einsum: the equation {equation!r} has {len(terms)} operands, got "
                      f"{len(ts)}")
    spare = [chr(c) for c in range(0x3B1, 0x3B1 + 32)]  # Greek: never in an equation
    widest = 0
    for k, (term, t) in enumerate(zip(terms, ts, strict=True)):
        named = len(term.replace("...", ""))
        if term.count("...") > 1:
            raise OpError(f"einsum: term {term!r} has more than one ellipsis")
        if "..." in term:
            width = t.ndim - named
            if width < 0:
                raise OpError(f"einsum: term {term!r} has more letters than operand {k} of "
                              f"shape {t.shape} has dimensions")
            widest = builtins.max(widest, width)
            terms[k] = term.replace("...", "".join(spare[32 - width:]))
        elif named != t.ndim:
            raise OpError(f"einsum: term {term!r} names {named} dimensions, operand {k} has "
                          f"shape {t.shape}")
    ellipsis = "".join(spare[32 - widest:])
    if not arrow:
        letters = "".join(terms)
        out = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                        and c not in ellipsis))
    else:
        out = out.replace("...", ellipsis)
    return terms, out


def _einsum_diagonal(t: Tensor, term: str) -> tuple[Tensor, str]:
    """A term with a repeated letter ("ii") reads the diagonal of those axes."""
    while len(set(term)) < len(term):
        c = next(c for c in term if term.count(c) > 1)
        i = term.index(c)
        j = term.index(c, i + 1)
        if t.shape[i] != t.shape[j]:
            raise OpError(f"einsum: letter {c!r} repeats over sizes {t.shape[i]} and "
                          f"{t.shape[j]}")
        t = diagonal(t, 0, i, j)  # the diagonal axis goes last
        term = term[:i] + term[i + 1:j] + term[j + 1:] + c
    return t, term


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation (torch.einsum): any equation, with ``...`` and repeated letters
    (diagonals); products of two operands at a time as batched matmuls, so the gradient is
    matmul's.  Operands may be given as one list, as torch allows."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ts = [_t(o) for o in operands]
    terms, out = _einsum_terms(equation, ts)
    if len(set(out)) < len(out) or builtins.any(c not in "".join(terms) for c in out):
        raise OpError(f"einsum: output {out!r} repeats a letter or names one no input has")
    sizes: dict[str, int] = {}
    for term, t in zip(terms, ts, strict=True):
        for c, n in zip(term, t.shape, strict=True):
            if c in sizes and sizes[c] != n and 1 not in (sizes[c], n):
                raise OpError(f"einsum: letter {c!r} has size {sizes[c]} and {n} (shapes "
                              f"{[t.shape for t in ts]})")
            sizes[c] = builtins.max(sizes.get(c, 1), n)
    pairs = [_einsum_diagonal(t, term) for t, term in zip(ts, terms, strict=True)]
    # Size-1 (broadcast) axes are expanded, and letters no one else needs summed out.
    ready = []
    for k, (t, term) in enumerate(pairs):
        others = out + "".join(p[1] for i, p in enumerate(pairs) if i != k)
        t = broadcast_to(t, tuple(sizes[c] for c in term))
        lone = tuple(i for i, c in enumerate(term) if c not in others)
        if lone:
            t = sum_over(t, lone)
            term = "".join(c for c in term if c in others)
        ready.append((t, term))
    a, la = ready[0]
    for k in range(1, len(ready)):
        b, lb = ready[k]
        keep = out + "".join(p[1] for p in ready[k + 1:])
        a, la = _einsum_pair(a, la, b, lb, keep, sizes)
    drop = tuple(i for i, c in enumerate(la) if c not in out)
    if drop:
        a = sum_over(a, drop)
        la = "".join(c for c in la if c in out)
    return permute(a, tuple(la.index(c) for c in out)) if la != out else a


def _einsum_pair(a: Tensor, la: str, b: Tensor, lb: str, keep: str, sizes: dict[str, int]
                 ) -> tuple[Tensor, str]:
    """Contract two operands as one batched matmul: (batch, left, summed) @ (batch,
    summed, right)."""
    batch = [c for c in la if c in lb and c in keep]
    summed = [c for c in la if c in lb and c not in keep]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]

    def arranged(t: Tensor, term: str, order: list[str], shape: tuple[int, ...]) -> Tensor:
        return reshape(permute(t, tuple(term.index(c) for c in order)), shape)

    def size(letters: list[str]) -> int:
        return int(np.prod([sizes[c] for c in letters], dtype=np.int64))

    nb, nl, ns, nr = size(batch), size(left), size(summed), size(right)
    product = matmul(arranged(a, la, batch + left + summed, (nb, nl, ns)),
                     arranged(b, lb, batch + summed + right, (nb, ns, nr)))
    letters = batch + left + right
    return reshape(product, tuple(sizes[c] for c in letters)), "".join(letters)


def _checked_product(who: str, a: Any, b: Any, ndims: tuple[int, int]) -> Tensor:
    a, b = _t(a), _t(b)
    if (a.ndim, b.ndim) != ndims:
        raise OpError(f"{who}: expected {ndims[0]}-D and {ndims[1]}-D tensors, got shapes "
                      f"{a.shape} and {b.shape}")
    return matmul(a, b)


def dot(a: Any, b: Any) -> Tensor:
    """The inner product of two 1-D tensors (torch.dot)."""
    return _checked_product("dot", a, b, (1, 1))


def mm(a: Any, b: Any) -> Tensor:
    """The product of two matrices (torch.mm)."""
    return _checked_product("mm", a, b, (2, 2))


def bmm(a: Any, b: Any) -> Tensor:
    """Batched matrix products of (B, n, m) and (B, m, p) (torch.bmm)."""
    return _checked_product("bmm", a, b, (3, 3))


def mv(a: Any, b: Any) -> Tensor:
    """Matrix times vector (torch.mv)."""
    return _checked_product("mv", a, b, (2, 1))


def outer(a: Any, b: Any) -> Tensor:
    """``a[i]·b[j]`` for 1-D ``a`` and ``b`` (torch.outer)."""
    a, b = _t(a), _t(b)
    if a.ndim != 1 or b.ndim != 1:
        raise OpError(f"outer: expected 1-D tensors, got shapes {a.shape} and {b.shape}")
    return mul(unsqueeze(a, 1), b)


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Contract the last ``dims`` axes of ``a`` with the first of ``b``, or the axis lists
    ``dims = (a_axes, b_axes)`` (torch.tensordot), through einsum."""
    a, b = _t(a), _t(b)
    if isinstance(dims, int):
        axes_a, axes_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        axes_a = [d % a.ndim for d in np.atleast_1d(dims[0])]
        axes_b = [d % b.ndim for d in np.atleast_1d(dims[1])]
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    la = [next(letters) for _ in range(a.ndim)]
    lb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(axes_a, axes_b, strict=True):
        lb[j] = la[i]
    out = [c for k, c in enumerate(la) if k not in axes_a] + [
        c for k, c in enumerate(lb) if k not in axes_b]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def addcmul(x: Any, t1: Any, t2: Any, *, value: float = 1.0) -> Tensor:
    """x + value·t1·t2 (torch.addcmul)."""
    return add(x, mul(mul(t1, t2), value))


def addcdiv(x: Any, t1: Any, t2: Any, *, value: float = 1.0) -> Tensor:
    """x + value·t1/t2 (torch.addcdiv)."""
    return add(x, mul(div(t1, t2), value))
