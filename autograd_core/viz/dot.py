"""Painting a folded graph as a Graphviz ``Digraph``: labels, styles, clusters, overlay, path."""

from __future__ import annotations

import math
import re
from typing import Any

import graphviz
import numpy as np

from ..engine import Const
from .folding import Group, Layout
from .graph import GraphView, magnitude
from .options import Options

_STYLES: dict[str, dict[str, str]] = {
    "param": {"shape": "Mrecord", "style": "filled", "fillcolor": "#fff2cc"},
    "input": {"shape": "Mrecord", "style": "filled", "fillcolor": "#e8e8e8"},
    "const": {"shape": "box", "style": "rounded,filled", "fillcolor": "#f5f5f5",
              "fontsize": "9"},
    "value": {"shape": "Mrecord"},
    "output": {"shape": "Mrecord", "style": "filled,bold", "fillcolor": "#d5e8d4"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#dae8fc"},
    "module": {"shape": "box3d", "style": "filled", "fillcolor": "#e1d5e7"},
    "run": {"shape": "box3d", "style": "filled", "fillcolor": "#ffe6cc"},
}
_CLUSTER = {"style": "rounded", "color": "#9673a6", "fontcolor": "#9673a6", "fontsize": "10",
            "labeljust": "l"}
_RED_FILL, _RED_LINE, _ORIGIN_LINE = "#ff7b7b", "#d62728", "#b00000"
_GREY_LINE, _GREY_TEXT, _GREY_FILL = "#c8c8c8", "#a0a0a0", "#f7f7f7"
_PATH_LINE = "#e6550d"
_CURRENT_LINE, _NOTE_TEXT = "#d6006f", "#3a5f8f"  # animate_backward: this step, earlier ones
# Edge colour runs from faint to strong blue over the log-magnitude of the gradient.
_FAINT, _STRONG = (0xC6, 0xDB, 0xEF), (0x08, 0x30, 0x6B)
_DECADES = 6  # gradients more than 1e6 times smaller than the largest get the thinnest edge
_RECORD_SPECIAL = re.compile(r"([{}|<>])")


def digraph(view: GraphView, layout: Layout, opts: Options) -> graphviz.Digraph:
    """The picture of ``view`` folded as ``layout``."""
    return _Painter(view, layout, opts).paint()


class _Painter:
    def __init__(self, view: GraphView, layout: Layout, opts: Options) -> None:
        self.view, self.layout, self.opts = view, layout, opts
        self.n = len(view.nodes)
        self.roots = set(view.roots)
        self.graph = graphviz.Digraph(
            "autograd_core", graph_attr={"rankdir": opts.rankdir},
            node_attr={"fontname": "Helvetica", "fontsize": "10"},
            edge_attr={"arrowsize": "0.6"})
        self.clusters: dict[tuple[str, ...], graphviz.Digraph] = {}
        self.scale = _LogScale(view)

    def paint(self) -> graphviz.Digraph:
        seen = bytearray(self.n + len(self.layout.groups))
        for u in self.layout.unit_of:
            if not seen[u]:
                seen[u] = 1
                self._unit(u)
        for k, (name, node) in enumerate(self.view.unreached):
            self._unreached(k, name, node)
        for scope in sorted(self.clusters, key=len, reverse=True):
            parent = self.clusters[scope[:-1]] if len(scope) > 1 else self.graph
            parent.subgraph(self.clusters[scope])
        self._edges()
        return self.graph

    # ------------------------------------------------------------------ nodes
    def _place(self, scope: tuple[str, ...]) -> graphviz.Digraph:
        """The (sub)graph that draws nodes of module ``scope``, creating its clusters."""
        for depth in range(1, len(scope) + 1):
            prefix = scope[:depth]
            if prefix not in self.clusters:
                label = _clip_left(".".join(prefix), self.opts.max_label_len)
                self.clusters[prefix] = graphviz.Digraph(
                    f"cluster_{len(self.clusters)}",
                    graph_attr={"label": _plain_text(label), **_CLUSTER})
        return self.clusters[scope] if scope else self.graph

    def _unit(self, u: int) -> None:
        if u >= self.n:
            self._group(u - self.n)
            return
        view, node = self.view, self.view.nodes[u]
        where = self._place(view.scopes[u])
        on = None if view.on_path is None else view.on_path[u]
        if node._op is None:
            role = "const" if type(node) is Const else ("param" if node.requires_grad
                                                         else "input")
            label = self._const_label(node.data) if role == "const" else self._value_label(u)
            where.node(f"v{u}", label, **self._mark(u, self._attrs(role, u, on)))
            return
        where.node(f"o{u}", _plain_text(node.op_name),
                   **self._mark(u, self._attrs("op", None, on)))
        role = "output" if u in self.roots else "value"
        where.node(f"v{u}", self._value_label(u),
                   **self._mark(u, self._attrs(role, u, on, dashed=not view.kept[u])))

    def _mark(self, u: int, attrs: dict[str, str]) -> dict[str, str]:
        """Outline the node of the current step (``animate_backward``'s frames)."""
        if self.view.current == u:
            attrs.update(color=_CURRENT_LINE, penwidth="3")
        return attrs

    def _attrs(self, role: str, i: int | None, on: bool | None, dashed: bool = False,
               bad: bool = False, origin: bool = False) -> dict[str, str]:
        attrs = dict(_STYLES[role])
        styles = [s for s in attrs.get("style", "").split(",") if s]
        if i is not None:
            bad, origin = self.view.bad[i], self.view.origin == i
        if dashed:
            styles.append("dashed")
        if on is False:
            attrs.update(color=_GREY_LINE, fontcolor=_GREY_TEXT, fillcolor=_GREY_FILL)
        if bad:
            attrs["fillcolor"] = _RED_FILL
        if (on is False or bad) and "filled" not in styles:
            styles.append("filled")
        if origin:
            attrs.update(color=_ORIGIN_LINE, penwidth="3")
        if styles:
            attrs["style"] = ",".join(styles)
        return attrs

    def _value_label(self, i: int) -> str:
        view, opts = self.view, self.opts
        node, data = view.nodes[i], view.values[i]
        name = view.names[i]
        fields = [name] if name else []
        dtype = getattr(node, "dtype", None)  # Tensors and their nodes; not Scalars
        if dtype is not None:
            fields.append(f"{_shape(node)} {dtype}")
        if opts.show_data and view.kept[i]:
            fields.append("data " + (_summary(data) if dtype is not None else _num(data)))
        if opts.show_grad and view.grads[i] is not None:
            fields.append(_grad_text(view.grads[i]))
        if not view.kept[i]:
            fields.append("value freed")
        if view.origin == i:
            fields += [view.origin_note, view.origin_site]
        return self._record([f for f in fields if f] or ["scalar"])

    def _const_label(self, data: Any) -> str:
        if isinstance(data, np.ndarray) and data.size != 1:
            text = f"{tuple(data.shape)} {data.dtype}"
        elif self.opts.show_data:
            text = _num(data.item() if isinstance(data, np.ndarray) else data)
        else:
            text = "const"
        return _plain_text(_clip(text, self.opts.max_label_len))

    def _record(self, fields: list[str]) -> str:
        return "{" + " | ".join(_record_text(_clip(f, self.opts.max_label_len))
                                for f in fields) + "}"

    def _group(self, k: int) -> None:
        view, group = self.view, self.layout.groups[k]
        nodes, limit = view.nodes, self.opts.max_label_len
        ops = [nodes[i].op_name for i in group.members if nodes[i]._op is not None]
        lines = []
        if group.kind == "module":
            lines.append(_clip_left(".".join(group.path), limit))
        elif group.block:
            lines.append(_clip(f"({' '.join(group.block)}) × {group.count}", limit))
        else:
            lines += [_clip_left(".".join(group.path), limit) + " ...",
                      _clip_left(".".join(group.last_path), limit),
                      f"× {group.count}"]
        lines.append(_clip(_count(len(ops), "op") + ": " + " ".join(dict.fromkeys(ops)), limit))
        lines += self._group_io(group)
        members = set(group.members)
        if view.origin in members:
            lines += [_clip(s, limit) for s in (view.origin_note, view.origin_site) if s]
        on = None if view.on_path is None else any(view.on_path[i] for i in group.members)
        attrs = self._attrs(group.kind, None, on, bad=any(view.bad[i] for i in group.members),
                            origin=view.origin in members)
        if not self.roots.isdisjoint(members):
            attrs["style"] += ",bold"
        self._place(group.cluster).node(f"g{k}", "\\n".join(_plain_text(s) for s in lines),
                                        **attrs)

    def _group_io(self, group: Group) -> list[str]:
        nodes, limit = self.view.nodes, self.opts.max_label_len
        lines = []
        for word, which in (("in", group.inputs), ("out", group.outputs)):
            if which:
                shapes = list(dict.fromkeys(_shape(nodes[i]) for i in which))
                lines.append(_clip(f"{word} " + "; ".join(shapes), limit))
        leaves = [nodes[i] for i in group.members if nodes[i]._op is None]
        params = [p for p in leaves if p.requires_grad and type(p) is not Const]
        if params:
            size = int(np.sum([np.size(p.data) for p in params]))  # leaves: data is theirs
            lines.append(_count(len(params), "param") + ", " + _count(size, "value"))
        if len(leaves) > len(params):
            lines.append(_count(len(leaves) - len(params), "constant"))
        return lines

    def _unreached(self, k: int, name: str, node: Any) -> None:
        fields = [name] if name else []
        if isinstance(node.data, np.ndarray):
            fields.append(f"{_shape(node)} {node.data.dtype}")
        fields.append("no gradient: not in this graph")
        attrs = self._attrs("param", None, False, dashed=True)
        self.graph.node(f"x{k}", self._record(fields), **attrs)

    # ------------------------------------------------------------------ edges
    def _edges(self) -> None:
        view, n, unit_of = self.view, self.n, self.layout.unit_of
        on_path = view.on_path
        merged: dict[tuple[str, str], list[Any]] = {}
        for c, slot, p in self.layout.edges:
            on = None if on_path is None else on_path[p] and on_path[c]
            if slot == -1:
                g = view.grads[c] if view.overlay else None
                self._edge(f"o{c}", f"v{c}", None if g is None else magnitude(g), on)
                continue
            up, uc = unit_of[p], unit_of[c]
            src = f"v{p}" if up < n else f"g{up - n}"
            dst = f"o{c}" if uc < n else f"g{uc - n}"
            mag = view.edge_grads.get((c, slot))
            if up < n and uc < n:
                self._edge(src, dst, mag, on, view.edge_notes.get((c, slot)))
            else:  # one edge per pair of drawn nodes; the largest gradient wins
                seen = merged.setdefault((src, dst), [None, on])
                seen[0] = _larger(seen[0], mag)
                seen[1] = None if on is None else seen[1] or on
        for (src, dst), (mag, on) in merged.items():
            self._edge(src, dst, mag, on)

    def _edge(self, src: str, dst: str, mag: float | None, on: bool | None,
              note: tuple[str, bool] | None = None) -> None:
        attrs: dict[str, str] = {}
        if note is not None:  # the gradient this edge carried (animate_backward's frames)
            text, now = note
            attrs = {"label": _plain_text(_clip(text, self.opts.max_label_len)),
                     "fontsize": "9", "fontcolor": _CURRENT_LINE if now else _NOTE_TEXT,
                     "color": _CURRENT_LINE if now else _NOTE_TEXT}
            if now:
                attrs["penwidth"] = "2.5"
        if self.view.overlay:
            if mag is None:  # the parent needs no gradient
                attrs = {"color": _GREY_LINE, "style": "dashed"}
            elif not math.isfinite(mag):
                attrs = {"color": _RED_LINE, "penwidth": "2.5", "tooltip": f"grad {_num(mag)}"}
            elif mag == 0.0:
                attrs = {"color": _GREY_LINE, "style": "dotted", "tooltip": "grad 0"}
            else:
                t = self.scale(mag)
                attrs = {"color": _shade(t), "penwidth": f"{0.6 + 3.4 * t:.2f}",
                         "tooltip": f"grad {_num(mag)}"}
        if on is not None and attrs.get("color") != _RED_LINE:
            attrs["color"] = _PATH_LINE if on else _GREY_LINE
            if on and not self.view.overlay:
                attrs["penwidth"] = "2"
        self.graph.edge(src, dst, **attrs)


class _LogScale:
    """Maps a gradient magnitude to [0, 1]: log10 of its ratio to the picture's largest,
    over ``_DECADES`` decades (a fixed span, so a factor of 2 never looks like 1000)."""

    def __init__(self, view: GraphView) -> None:
        mags = list(view.edge_grads.values())
        if view.overlay:
            mags += [magnitude(g) for g in view.grads if g is not None]
        self.top = max((math.log10(m) for m in mags if 0.0 < m < math.inf), default=0.0)

    def __call__(self, mag: float) -> float:
        return max(0.0, 1.0 - (self.top - math.log10(mag)) / _DECADES)


def _larger(a: float | None, b: float | None) -> float | None:
    if a is None or (b is not None and (b != b or b > a)):
        return b
    return a


def _shade(t: float) -> str:
    mix = zip(_FAINT, _STRONG, strict=True)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in mix)


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


def _num(v: Any) -> str:
    return f"{float(v):.4g}"


def _shape(node: Any) -> str:
    """A node's shape as drawn: Tensors and their nodes have one, Scalars do not."""
    shape = getattr(node, "shape", None)
    if shape is None and isinstance(getattr(node, "data", None), np.ndarray):
        shape = node.data.shape  # a constant array
    return "scalar" if shape is None else str(tuple(shape))


def _summary(a: np.ndarray) -> str:
    """A tensor's values in a few characters: the value, or the range [min, max] of its
    finite values and how many are not finite."""
    if a.dtype.kind not in "biuf":
        return str(a.dtype)
    if a.size == 1:
        return _num(a.reshape(-1)[0])
    if a.size == 0:
        return "empty"
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    text = f"[{_num(finite.min())}, {_num(finite.max())}]" if finite.size else ""
    if finite.size < a.size:
        text += f" {a.size - finite.size} not finite"
    return text.strip()


def _grad_text(g: Any) -> str:
    if not isinstance(g, np.ndarray):
        return f"grad {_num(g)}"
    if g.size == 1:
        return f"grad {_num(g.reshape(-1)[0])}"
    return f"grad norm {_num(magnitude(g))} " + _summary(g)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _clip_left(text: str, limit: int) -> str:
    """Clip keeping the end: the innermost names of a module path matter most."""
    return text if len(text) <= limit else "..." + text[len(text) - limit + 3:]


def _plain_text(text: str) -> str:
    return text.replace("\\", "\\\\")


def _record_text(text: str) -> str:
    return _RECORD_SPECIAL.sub(r"\\\1", _plain_text(text))
