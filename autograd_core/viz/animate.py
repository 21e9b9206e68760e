"""``animate_backward``: the backward pass as frames of the graph, in a self-contained HTML page."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any

import graphviz

from ..engine import Node
from .dot import digraph
from .folding import fold
from .graph import GraphView, build, named_nodes
from .options import Options
from .steps import Step, backward_steps, describe_value, label_of

__all__ = ["BackwardAnimation", "animate_backward", "backward_frames"]

# Options that make sense frame by frame; folding and the overlay would hide the steps.
_FRAME_OPTIONS = ("rankdir", "show_data", "show_grad", "max_label_len", "params", "module")


class BackwardAnimation:
    """The frames of ``animate_backward``: ``frames`` (SVG text, one per step), ``steps``,
    ``html`` (the whole page); displayed inline by Jupyter, written by ``save(path)``."""

    def __init__(self, steps: list[Step], frames: list[str]) -> None:
        self.steps = steps
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def _widget(self) -> str:
        """The slider and its frames as an HTML fragment (the page's body; Jupyter's view)."""
        digest = hashlib.sha1("".join(self.frames).encode()).hexdigest()[:12]
        uid = f"agc-backward-{digest}"  # from the content: byte-stable, unique per graph
        last = len(self.frames) - 1
        parts = [f'<div class="agc-backward" id="{uid}">',
                 f'<div><button type="button" data-d="-1">&#9664;</button> '
                 f'<input type="range" min="0" max="{last}" value="0" step="1"> '
                 f'<button type="button" data-d="1">&#9654;</button> '
                 f'<span class="agc-count">step 0 of {last}</span></div>']
        for k, (step, svg) in enumerate(zip(self.steps, self.frames, strict=True)):
            shown = "block" if k == 0 else "none"
            parts.append(f'<div class="agc-frame" style="display:{shown}">'
                         f'<pre style="font-size:12px">{html.escape(str(step))}</pre>'
                         f'{svg}</div>')
        parts.append("</div>")
        parts.append(_SCRIPT.replace("UID", uid))
        return "\n".join(parts)

    @property
    def html(self) -> str:
        """A self-contained page: inline SVGs and a few lines of JavaScript, nothing fetched."""
        return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                "<title>backward, step by step</title>\n</head>\n<body>\n"
                f"{self._widget()}\n</body>\n</html>\n")

    def _repr_html_(self) -> str:
        return self._widget()

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (UTF-8) and return the path."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path


_SCRIPT = """<script>
(function () {
  var root = document.getElementById("UID");
  var frames = root.querySelectorAll(".agc-frame");
  var slider = root.querySelector("input");
  var count = root.querySelector(".agc-count");
  function show(k) {
    k = Math.max(0, Math.min(frames.length - 1, k));
    for (var i = 0; i < frames.length; i++) {
      frames[i].style.display = i === k ? "block" : "none";
    }
    slider.value = k;
    count.textContent = "step " + k + " of " + (frames.length - 1);
  }
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  root.querySelectorAll("button").forEach(function (b) {
    b.addEventListener("click", function () {
      show(parseInt(slider.value, 10) + parseInt(b.getAttribute("data-d"), 10));
    });
  });
})();
</script>"""


def animate_backward(loss: Node, path: str | Path | None = None, *, grad: Any = None,
                     max_steps: int = 200, **options: Any) -> BackwardAnimation:
    """One frame per step of ``backward_steps(loss)``: the graph (``to_dot``'s drawing) with
    the current node outlined, every finished node showing the gradient it received, and
    each edge labelled with the gradient it carried (the current step's in colour).

    Returns a `BackwardAnimation` (inline in Jupyter) and, given ``path``, writes it as a
    self-contained HTML page with a slider.  The same graph gives the same bytes.  Needs
    Graphviz's ``dot`` (GraphvizNotFoundError otherwise).  ``options``: ``rankdir``,
    ``show_data``, ``show_grad``, ``max_label_len``, ``params``, ``module`` (as ``to_dot``).

    >>> import autograd_core as ag
    >>> w = ag.Scalar(-3.0, name="w")
    >>> anim = animate_backward(w * 2.0, "backward.html")  # doctest: +SKIP
    """
    from . import _require_dot  # the package's one check for the dot program

    _check_frame_args(options, max_steps)
    _require_dot("animate_backward")
    steps, pictures = backward_frames(loss, grad=grad, max_steps=max_steps, **options)
    anim = BackwardAnimation(steps, [_svg(p) for p in pictures])
    if path is not None:
        anim.save(path)
    return anim


def backward_frames(loss: Node, *, grad: Any = None, max_steps: int = 200, **options: Any
                    ) -> tuple[list[Step], list[graphviz.Digraph]]:
    """The steps and, per step, the frame as a ``graphviz.Digraph`` (its ``.source`` is
    the DOT text; nothing here needs the ``dot`` program).  See `animate_backward`.

    >>> import autograd_core as ag
    >>> steps, frames = backward_frames(ag.Scalar(2.0, name="w") * 3.0)
    >>> len(steps), len(frames), "step 0: mul(w, constant)" in frames[0].source
    (2, 2, True)
    """
    _check_frame_args(options, max_steps)
    steps = backward_steps(loss, grad)
    if len(steps) > max_steps:
        raise ValueError(f"animate_backward: the graph has {len(steps)} backward steps, more "
                         f"than max_steps={max_steps}; animate a smaller graph (or raise "
                         f"max_steps: one dot run per frame)")
    opts = Options.parse("animate_backward", {**options, "overlay": False})
    view = build([loss], named_nodes(opts.params, opts.module), False, None)
    return steps, _frames(view, steps, fold(view, None, None), opts)


def _check_frame_args(options: dict[str, Any], max_steps: Any) -> None:
    unknown = sorted(set(options) - set(_FRAME_OPTIONS))
    if unknown:
        raise TypeError(f"animate_backward: unknown or unsupported option(s) "
                        f"{', '.join(unknown)}; the options are {', '.join(_FRAME_OPTIONS)}")
    if type(max_steps) is not int or max_steps < 1:
        raise ValueError(f"animate_backward: max_steps must be an int >= 1, got {max_steps!r}")


def _frames(view: GraphView, steps: list[Step], layout: Any, opts: Options
            ) -> list[graphviz.Digraph]:
    """The picture after each step: gradients of the steps so far, edges they sent on."""
    place = {id(n): i for i, n in enumerate(view.nodes)}
    view.grads = [None] * len(view.nodes)
    view.edge_notes = {}
    pictures = []
    for step in steps:
        u = place[id(step.node)]
        view.current = u
        view.grads[u] = step.grad_after_hooks
        for key, (text, _) in list(view.edge_notes.items()):
            view.edge_notes[key] = (text, False)
        for send in step.sends:
            view.edge_notes[(u, send.slot)] = (describe_value(send.grad), True)
        picture = digraph(view, layout, opts)
        lines = [str(step).splitlines()[0]] + [
            f"to {label_of(s.parent)} (input {s.slot}): {s.rule}  ->  {describe_value(s.grad)}"
            for s in step.sends]
        picture.attr(label="\\n".join(_plain(t) for t in lines), labelloc="t")
        pictures.append(picture)
    return pictures


def _plain(text: str) -> str:
    return text.replace("\\", "\\\\")


def _svg(picture: graphviz.Digraph) -> str:
    from . import _missing_dot

    try:
        svg = picture.pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise _missing_dot("animate_backward") from None
    return svg[svg.index("<svg"):].strip()  # drop the XML prolog and comments: inlined
