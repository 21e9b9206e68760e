"""Pictures of computation graphs with Graphviz: deterministic, foldable, with a backward overlay.

Three functions take the same roots and options (and two more teach the backward pass:
``backward_steps(loss)``, the engine's steps as records, and ``animate_backward(loss,
path)``, one frame per step as an HTML page with a slider; see ``viz.steps`` and
``viz.animate``):

- ``to_dot(*roots, **options) -> str``: the DOT source.  Needs only the ``graphviz`` Python
  package, never the ``dot`` program.  Byte-identical across runs and processes: nodes are
  numbered by their position in a topological order of the graph (parents first, parents
  in argument order), never by ``id()``.
- ``draw(*roots, **options) -> graphviz.Digraph``: the same picture as an object that
  renders inline in Jupyter (its ``.source`` is ``to_dot``'s result).
- ``render(*roots, path, format=None, **options) -> pathlib.Path``: writes an SVG, PNG or
  PDF file (format from ``path``'s suffix unless given).

``draw`` and ``render`` need Graphviz's ``dot`` executable.  Both check for it *before* doing
anything -- ``draw`` too, although the Digraph only calls ``dot`` when displayed, because a
notebook would otherwise report the problem as a long traceback from inside its display
machinery -- and raise one ``GraphvizNotFoundError`` (a ``RuntimeError``) that says how to
install Graphviz.

What is drawn
-------------
Every computed value is an op node (ellipse: the op's name) feeding a value box (record:
name, shape and dtype for tensors, data, grad).  Leaves are value boxes only.  Styles:
parameters (leaves that require grad) yellow, inputs (leaves that do not) grey, constants
(numbers and arrays an op was given) small grey boxes, outputs (the roots) green and bold.
Without the overlay (below) the grad shown is ``.grad``: leaves and ``retain_grad()`` nodes.

The graph keeps its structure after ``backward()`` (ops, edges, shapes, dtypes, leaves with
data and grad), so drawing after backward shows the same nodes and edges as before it.  A
Tensor's intermediate value is kept only while a backward rule reads it or the drawn root
is it; one that was freed (during the forward, because nothing read it, or by backward) is
drawn dashed with "value freed".  Scalars keep every value.

Values and gradients holding NaN or Inf are filled red.  The origin -- the first node in
topological order whose value is not finite, or else the first one backward reached whose
gradient is not finite (with the op whose rule produced it) -- gets a thick border and a
note, plus the line that created it if ``detect_anomaly()`` was on during the forward.

Options
-------
rankdir : "LR" (default), "TB", "RL" or "BT".
show_data, show_grad : show values and gradients in the labels (default True).  Scalars
    show their value, tensors their value (one element) or their finite min and max;
    gradients are the value for scalars and the norm, min and max for tensors.
max_label_len : longest text of one label field (default 40); longer text is clipped.
params : names for parameters, a mapping ``name -> node`` or ``(name, node)`` pairs.
module : an object with ``named_parameters()`` (an ``nn.Module``) naming its parameters.
    Otherwise a node's ``.name`` is used.
collapse : None (default) draws every node, each module as a ``subgraph cluster_k`` (the
    module path ``node._meta["scope"]``, e.g. ``("MLP", "layers", "0", "fc")``, is recorded
    by ``nn.Module`` during forward).  Parameters and constants are drawn in the innermost
    module using them, inputs outside every module.  An int ``depth`` folds each module
    whose path is longer than ``depth`` into one node listing its ops, input and output
    shapes and parameters (``collapse=0``: the whole model is one node; ``1``: its
    children), and folds repeated blocks along linear chains (see
    ``autograd_core.viz.folding``): a million-step chain without modules becomes one node
    ``(mul add) × 500000``, a 100-layer MLP three nodes.
fold_repeats : with ``collapse``, the fewest back-to-back repeats of a block that are folded
    (default 3); None keeps every module and op apart.
overlay : the backward overlay.  None (default) turns it on when a leaf of the graph holds
    a gradient, i.e. after ``backward()``; True / False force it.  It runs the chain rule
    over the drawing's own values (freed ones are recomputed from the leaves by replaying
    the ops: ``autograd_core.replay``) with each op's rules -- no ``.grad`` is changed and
    hooks do not run -- to give d(sum of the roots)/d(node) for every node, shows that as
    each node's grad, and draws each edge
    with width and colour growing with the log of the gradient flowing along it (faint: a
    million times smaller than the largest; dashed grey: no gradient flows).
path : True highlights every path from the output to a parameter (the given ``params`` /
    ``module`` parameters, or every leaf that requires grad) and greys out the rest; a
    list of parameters highlights theirs.  Given parameters that are not in the graph --
    they receive no gradient -- are drawn greyed with a note.

>>> import autograd_core as ag
>>> w = ag.Scalar(-3.0, name="w")
>>> print(ag.to_dot(w * 2.0, show_grad=False))
digraph autograd_core {
	graph [rankdir=LR]
	node [fontname=Helvetica fontsize=10]
	edge [arrowsize=0.6]
	v0 [label="{w | data -3}" fillcolor="#fff2cc" shape=Mrecord style=filled]
	v1 [label=2 fillcolor="#f5f5f5" fontsize=9 shape=box style="rounded,filled"]
	o2 [label=mul fillcolor="#dae8fc" shape=ellipse style=filled]
	v2 [label="{data -6}" fillcolor="#d5e8d4" shape=Mrecord style="filled,bold"]
	o2 -> v2
	v0 -> o2
	v1 -> o2
}
<BLANKLINE>
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import graphviz

from ..engine import Node
from .animate import BackwardAnimation, animate_backward
from .dot import digraph
from .folding import fold
from .graph import build, named_nodes
from .options import Options
from .steps import Step, backward_steps

__all__ = ["BackwardAnimation", "GraphvizNotFoundError", "Step", "animate_backward",
           "backward_steps", "draw", "render", "to_dot"]

_FORMATS = ("svg", "png", "pdf")


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed (or not on PATH)."""


def to_dot(*roots: Node, **options: Any) -> str:
    """The DOT source of the graph that computed ``roots`` (options: see the module doc).

    >>> import autograd_core as ag
    >>> x = ag.tensor([1.0, -2.0], requires_grad=True)
    >>> "relu" in to_dot(x.relu().sum())
    True
    """
    return _picture("to_dot", roots, options).source


def draw(*roots: Node, **options: Any) -> graphviz.Digraph:
    """The graph as a ``graphviz.Digraph``, displayed inline by Jupyter.

    Raises GraphvizNotFoundError at once when ``dot`` is missing (see the module doc).

    >>> import autograd_core as ag
    >>> g = draw(ag.Scalar(2.0) * 3.0)  # doctest: +SKIP
    """
    _require_dot("draw")
    return _picture("draw", roots, options)


def render(*roots: Node, path: str | Path, format: str | None = None,  # noqa: A002
           **options: Any) -> Path:
    """Write the picture to ``path`` as SVG, PNG or PDF and return the path.

    ``format`` defaults to ``path``'s suffix (``svg`` when it has none of the three).

    >>> import autograd_core as ag
    >>> render(ag.Scalar(2.0) * 3.0, path="graph.svg")  # doctest: +SKIP
    PosixPath('graph.svg')
    """
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    fmt = format or (suffix if suffix in _FORMATS else "svg")
    if fmt not in _FORMATS:
        raise ValueError(f"render: format must be one of {', '.join(_FORMATS)}, got {fmt!r}")
    if suffix in _FORMATS and suffix != fmt:
        raise ValueError(f"render: format={fmt!r} does not match the file name {path.name!r}")
    _require_dot("render")
    picture = _picture("render", roots, options)
    try:
        data = picture.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise _missing_dot("render") from None
    path.write_bytes(data)
    return path


def _picture(fn: str, roots: tuple[Node, ...], options: dict[str, Any]) -> graphviz.Digraph:
    if not roots:
        raise TypeError(f"{fn}: give at least one Tensor or Scalar to draw")
    for k, r in enumerate(roots):
        if not isinstance(r, Node):
            raise TypeError(f"{fn}: root {k} is a {type(r).__name__}, not a Tensor or Scalar")
    opts = Options.parse(fn, options)
    pairs = named_nodes(opts.params, opts.module)
    view = build(list(roots), pairs, opts.overlay, opts.path)
    return digraph(view, fold(view, opts.collapse, opts.fold_repeats), opts)


def _require_dot(fn: str) -> None:
    if shutil.which("dot") is None:
        raise _missing_dot(fn)


def _missing_dot(fn: str) -> GraphvizNotFoundError:
    return GraphvizNotFoundError(
        f"{fn}: Graphviz's 'dot' program was not found on PATH, so the graph cannot be "
        f"rendered. Install Graphviz with one of\n"
        f"    apt-get install graphviz                 (Debian, Ubuntu)\n"
        f"    brew install graphviz                    (macOS)\n"
        f"    conda install -c conda-forge graphviz    (conda)\n"
        f"then restart Python (or the notebook kernel). to_dot() works without it.")
