"""Differential test: random expressions on Tensors and, element by element, on Scalars agree.

Both value types share one engine but have separate forwards (numpy vs math) and separate
graph namespaces for create_graph, so this checks each against the other -- values, first
derivatives and second derivatives -- including at kinks, where both must follow the same
convention.  "Agree" means up to the last-bit differences between numpy's and math's
elementary functions (and the two sigmoid formulas).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_core as ag

N_VARS = 3
TOL = {"rtol": 1e-9, "atol": 1e-12}

# Written with the methods and operators Tensor and Scalar share; each stays finite on all
# inputs (bounded exponents, positive log arguments, nonzero denominators), so no NaN can
# hide a disagreement.
UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": lambda x: -x,
    "affine": lambda x: 2.5 * x - 1.0,
    "exp": lambda x: x.tanh().exp(),
    "log": lambda x: (x * x + 1).log(),
    "log1p": lambda x: (x * x).log1p(),
    "sqrt": lambda x: x.abs().sqrt(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "abs": lambda x: abs(x),
    "cube": lambda x: x ** 3,
    "clip": lambda x: x.clip(-1.0, 0.5),
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1),
    "pow": lambda a, b: (abs(a) + 1) ** b.tanh(),
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
}


def extend(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.tuples(st.sampled_from(sorted(UNARY)), children),
                     st.tuples(st.sampled_from(sorted(BINARY)), children, children))


LEAVES = st.one_of(st.tuples(st.just("var"), st.integers(0, N_VARS - 1)),
                   st.tuples(st.just("const"), st.sampled_from([-1.5, 0.0, 0.5, 2.0])))
EXPRESSIONS = st.recursive(LEAVES, extend, max_leaves=8)


def evaluate(expr: tuple, variables: list, const: Callable[[float], Any]) -> Any:
    kind, *args = expr
    if kind == "var":
        return variables[args[0]]
    if kind == "const":
        return const(args[0])
    if kind in UNARY:
        return UNARY[kind](evaluate(args[0], variables, const))
    return BINARY[kind](*(evaluate(a, variables, const) for a in args))


def uses_a_variable(expr: tuple) -> bool:
    kind, *args = expr
    return kind == "var" or any(isinstance(a, tuple) and uses_a_variable(a) for a in args)


def first_and_second(out: Any, leaves: list, value: Callable[[Any], Any]) -> tuple:
    """d out / d leaf, and d (sum of those) / d leaf (zeros where unused)."""
    grads = ag.grad(out, leaves, create_graph=True, allow_unused=True)
    live = [g for g in grads if isinstance(g, ag.Tensor | ag.Scalar) and g.requires_grad]
    seconds: tuple = (None,) * len(leaves)
    if live:
        total = live[0]
        for g in live[1:]:
            total = total + g
        seconds = ag.grad(total.sum() if isinstance(total, ag.Tensor) else total, leaves,
                          allow_unused=True)
    return [value(g) for g in grads], [value(g) for g in seconds]


@given(expr=EXPRESSIONS, data=st.data())
def test_tensor_and_scalar_engines_agree(expr: tuple, data: Any) -> None:
    assume(uses_a_variable(expr))
    n = data.draw(st.integers(1, 4), label="n")
    values = [data.draw(hnp.arrays(np.float64, n, elements=st.floats(-2, 2)), label=f"x{i}")
              for i in range(N_VARS)]
    xs = [ag.Tensor(v, requires_grad=True) for v in values]
    out = evaluate(expr, xs, lambda c: ag.Tensor(np.full(n, c)))
    assert out.dtype == np.float64
    grads, seconds = first_and_second(
        out.sum(), xs, lambda g: np.zeros(n) if g is None else g.numpy())
    for j in range(n):
        ss = [ag.Scalar(float(v[j])) for v in values]
        s_out = evaluate(expr, ss, lambda c: ag.Scalar(c, requires_grad=False))
        np.testing.assert_allclose(s_out.data, out.numpy()[j], **TOL)
        s_grads, s_seconds = first_and_second(
            s_out, ss, lambda g: 0.0 if g is None else float(getattr(g, "data", g)))
        for i in range(N_VARS):
            np.testing.assert_allclose(s_grads[i], grads[i][j], **TOL,
                                       err_msg=f"d/dx{i} at element {j}")
            np.testing.assert_allclose(s_seconds[i], seconds[i][j], **TOL,
                                       err_msg=f"second derivative in x{i} at element {j}")
