"""Readable text for every backward rule in the rule table, one line per input, for teaching.

``RULE_TEXT[name]`` holds one string per input of the primitive ``name`` (the rule table in
``primitives.py`` is keyed the same way; a test fails when an op has no text here or the
count of lines differs from its count of rules).  Elementwise ops state the local
derivative (``d(a*b)/da = b``: the engine multiplies it by the incoming gradient ``g``);
ops that move or reduce values say what happens to ``g`` itself.  The text describes the
maths of the rule next to it in ``primitives.py``, conventions at kinks included.
"""

from __future__ import annotations

from .engine import Op
from .primitives import is_primitive

__all__ = ["RULE_TEXT", "rule_text"]

RULE_TEXT: dict[str, tuple[str, ...]] = {
    # elementwise, two inputs
    "add": ("d(a+b)/da = 1", "d(a+b)/db = 1"),
    "sub": ("d(a-b)/da = 1", "d(a-b)/db = -1"),
    "mul": ("d(a*b)/da = b", "d(a*b)/db = a"),
    "div": ("d(a/b)/da = 1/b", "d(a/b)/db = -(a/b)/b"),
    "pow": ("d(a**b)/da = b * a**(b-1)  (0 at a = b = 0)",
            "d(a**b)/db = a**b * log(a)  (0 at a = 0, b >= 0)"),
    "maximum": ("d(max(a,b))/da = 1 if a > b, 1/2 if a == b, else 0",
                "d(max(a,b))/db = 1 if b > a, 1/2 if a == b, else 0"),
    "minimum": ("d(min(a,b))/da = 1 if a < b, 1/2 if a == b, else 0",
                "d(min(a,b))/db = 1 if b < a, 1/2 if a == b, else 0"),
    "remainder": ("d(remainder(a,b))/da = 1", "d(remainder(a,b))/db = -floor(a/b)"),
    "fmod": ("d(fmod(a,b))/da = 1", "d(fmod(a,b))/db = -trunc(a/b)"),
    "copysign": ("d(copysign(a,b))/da = sign(a) * (sign of b)", "d(copysign(a,b))/db = 0"),
    "atan2": ("d(atan2(a,b))/da = b/(a²+b²)", "d(atan2(a,b))/db = -a/(a²+b²)"),
    "where": ("d(where(c,a,b))/da = 1 where c, else 0",
              "d(where(c,a,b))/db = 0 where c, else 1"),
    # elementwise, one input
    "neg": ("d(-a)/da = -1",),
    "exp": ("d(exp(a))/da = exp(a)  (the output)",),
    "log": ("d(log(a))/da = 1/a",),
    "log1p": ("d(log1p(a))/da = 1/(a+1)",),
    "sin": ("d(sin(a))/da = cos(a)",),
    "cos": ("d(cos(a))/da = -sin(a)",),
    "tanh": ("d(tanh(a))/da = 1 - tanh(a)²  (from the output)",),
    "sigmoid": ("d(sigmoid(a))/da = s * (1 - s), s = sigmoid(a)  (the output)",),
    "sqrt": ("d(sqrt(a))/da = 1/(2*sqrt(a))  (0 at a = 0)",),
    "relu": ("d(relu(a))/da = 1 if a > 0 else 0  (0 at a = 0)",),
    "abs": ("d(|a|)/da = sign(a)  (0 at a = 0)",),
    "tan": ("d(tan(a))/da = 1 + tan(a)²",),
    "asin": ("d(asin(a))/da = 1/sqrt(1 - a²)",),
    "acos": ("d(acos(a))/da = -1/sqrt(1 - a²)",),
    "atan": ("d(atan(a))/da = 1/(a² + 1)",),
    "sinh": ("d(sinh(a))/da = cosh(a)",),
    "cosh": ("d(cosh(a))/da = sinh(a)",),
    "asinh": ("d(asinh(a))/da = 1/sqrt(a² + 1)",),
    "acosh": ("d(acosh(a))/da = 1/sqrt(a² - 1)",),
    "atanh": ("d(atanh(a))/da = 1/(1 - a²)",),
    "erf": ("d(erf(a))/da = 2/sqrt(pi) * exp(-a²)",),
    "exp2": ("d(2**a)/da = 2**a * ln 2",),
    "log2": ("d(log2(a))/da = 1/(a * ln 2)",),
    "log10": ("d(log10(a))/da = 1/(a * ln 10)",),
    "expm1": ("d(expm1(a))/da = expm1(a) + 1",),
    "floor": ("d(floor(a))/da = 0  (piecewise constant)",),
    "ceil": ("d(ceil(a))/da = 0  (piecewise constant)",),
    "trunc": ("d(trunc(a))/da = 0  (piecewise constant)",),
    "round": ("d(round(a))/da = 0  (piecewise constant)",),
    "sign": ("d(sign(a))/da = 0  (piecewise constant)",),
    "clip": ("d(clip(a,lo,hi))/da = 1 if lo <= a <= hi else 0",),
    "cast": ("d(cast(a))/da = 1  (g cast back to a's dtype)",),
    # reductions
    "sum": ("d(sum(a))/da = 1: g is copied to every element summed",),
    "max": ("d(max(a))/da = 1 at the maximum (shared equally by ties), else 0",),
    "min": ("d(min(a))/da = 1 at the minimum (shared equally by ties), else 0",),
    "prod": ("d(prod(a))/da_i = product of the other elements (out / a_i)",),
    # shapes and indexing: the gradient is moved back, not scaled
    "reshape": ("g is reshaped back to a's shape",),
    "transpose": ("g is transposed back (the inverse permutation)",),
    "flip": ("g is flipped back along the same axes",),
    "roll": ("g is rolled back by the opposite shifts",),
    "cumsum": ("d(cumsum(a))/da: g's reversed cumulative sum along the axis",),
    "expand": ("g is summed over the broadcast axes back to a's shape",),
    "getitem": ("g is added into zeros of a's shape at the indexed places",),
    "add_at": ("g is read back at the indexed places",),
    "setitem": ("g where a was not overwritten, 0 where it was",
                "g at the places v was written to (summed if v was broadcast)"),
    "pad": ("g with the padded border sliced off",),
    "concat": ("g sliced at the place of this input",),
    # linear algebra
    "matmul": ("d(a@b)/da: g @ bᵀ", "d(a@b)/db: aᵀ @ g"),
    "addmm": ("d(c + a@b)/dc = 1: g (summed to c's shape)", "d(c + a@b)/da: g @ bᵀ",
              "d(c + a@b)/db: aᵀ @ g"),
    # sliding windows (im2col, pooling)
    "windows": ("each window's gradient is added back where the window was (col2im)",),
    "fold": ("g's windows are read back (im2col)",),
    "window_max": ("g goes to each window's maximum (shared equally by ties)",),
    "window_max_grad": ("each window's share is gathered back from its maximum",),
    "to": ("the gradient moves back to the input's array library and device",),
    "all_reduce": ("d(sum over ranks)/d(each rank's input) = the sum of every rank's g",),
}


def rule_text(op: Op, i: int) -> str:
    """The text of rule ``i`` of ``op``: the table's line for a primitive, a generic line
    for a custom op (an ``ag.Function``, whose rule is its own ``backward``).

    >>> from autograd_core.primitives import OPS
    >>> rule_text(OPS["mul"], 0)
    'd(a*b)/da = b'
    """
    lines = RULE_TEXT.get(op.name)
    if lines is None or not is_primitive(op):
        return f"{op.name}.backward(ctx, g), input {i}  (a custom Function's own rule)"
    if op.name == "concat":  # one Op per arity, all with the same rule
        return lines[0]
    return lines[i]

