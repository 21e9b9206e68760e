"""Tests for autograd_core.viz: golden DOT, determinism, folding, overlay, NaN, missing dot."""

import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.engine import STATE
from autograd_core.examples import readme_graph
from autograd_core.viz import GraphvizNotFoundError, draw, render, to_dot
from autograd_core.viz.folding import _repeats

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' executable not installed")
SVG = "{http://www.w3.org/2000/svg}"


# ---------------------------------------------------------------------- helpers
@contextlib.contextmanager
def scope(*names):
    """Record ops as if inside nn modules ``names`` (what nn.Module.__call__ does)."""
    prev = STATE.scope
    STATE.scope = names
    try:
        yield
    finally:
        STATE.scope = prev


def check_golden(name, text):
    path = GOLDEN / name
    if os.environ.get("AGC_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, rerun with AGC_UPDATE_GOLDEN=1 and review the diff")


def statements(dot):
    """node id -> attribute text, and the list of (src, dst, attribute text) edges."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        m = re.match(r"\s*(\w+) -> (\w+)(?: \[(.*)\])?$", line)
        if m:
            edges.append((m[1], m[2], m[3] or ""))
            continue
        m = re.match(r"\s*(\w+) \[(.*)\]$", line)
        if m and m[1] not in ("graph", "node", "edge"):
            nodes[m[1]] = m[2]
    return nodes, edges


def clusters_of(dot):
    """node id -> tuple of the labels of the clusters it is drawn in (outermost first)."""
    where, stack = {}, []
    for line in dot.splitlines():
        if re.match(r"\s*subgraph cluster_\d+ \{", line):
            stack.append(None)
        elif line.strip() == "}" and stack:
            stack.pop()
        elif stack and stack[-1] is None and line.strip().startswith("graph ["):
            stack[-1] = re.search(r'label="?([^" \]]+)', line)[1]
        else:
            m = re.match(r"\s*(\w+) \[", line)
            if m and m[1] not in ("graph", "node", "edge"):
                where[m[1]] = tuple(stack)
    return where


def attr(text, key):
    m = re.search(rf'\b{key}=("(?:[^"\\]|\\.)*"|[^ \]]+)', text)
    return None if m is None else m[1].strip('"')


def neuron():
    """The seeds' canonical graph relu(x1*w1 + x2*w2 + b); x1, x2 inputs."""
    x1, x2 = ag.Scalar(2.0, requires_grad=False, name="x1"), ag.Scalar(-1.0, False, name="x2")
    w1, w2, b = ag.Scalar(-0.5, name="w1"), ag.Scalar(1.5, name="w2"), ag.Scalar(4.0, name="b")
    return (x1 * w1 + x2 * w2 + b).relu(), (w1, w2, b)


def mlp():
    """A 3-5-2 MLP on 4 samples, recorded with module scopes; dyadic data so labels are exact."""
    x = ag.tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 4)
    w1 = ag.tensor(np.full((3, 5), 0.5, np.float32), requires_grad=True)
    b1 = ag.tensor(np.linspace(-1, 1, 5, dtype=np.float32), requires_grad=True)
    w2 = ag.tensor(np.full((5, 2), -0.25, np.float32), requires_grad=True)
    b2 = ag.tensor(np.zeros(2, np.float32), requires_grad=True)
    with scope("MLP", "fc1"):
        h = x @ w1 + b1
    with scope("MLP", "act"):
        h = h.relu()
    with scope("MLP", "fc2"):
        out = h @ w2 + b2
    loss = (out * out).mean()
    return loss, {"fc1.weight": w1, "fc1.bias": b1, "fc2.weight": w2, "fc2.bias": b2}


def chain(steps):
    y = ag.Scalar(1.0, name="y0")
    for _ in range(steps):
        y = y * 1.0001 + 0.0001
    return y


# ---------------------------------------------------------------------- golden snapshots
def test_neuron_golden_before_and_after_backward():
    out, _ = neuron()
    check_golden("neuron_forward.dot", to_dot(out))
    out.backward()
    check_golden("neuron.dot", to_dot(out))


def test_mlp_golden_clusters_and_collapsed():
    loss, params = mlp()
    loss.backward()
    check_golden("mlp.dot", to_dot(loss, params=params))
    check_golden("mlp_collapse1.dot", to_dot(loss, params=params, collapse=1))


def test_neuron_labels_hold_the_chain_rule_values():
    out, _ = neuron()
    out.backward(retain_graph=True)
    nodes, edges = statements(to_dot(out))
    # x1*w1 + x2*w2 + b = -1 - 1.5 + 4 = 1.5 > 0, so dout/dw1 = x1, dout/dw2 = x2, dout/db = 1
    assert attr(nodes["v1"], "label") == "{w1 | data -0.5 | grad 2}"
    assert attr(nodes["v4"], "label") == "{w2 | data 1.5 | grad -1}"
    assert attr(nodes["v7"], "label") == "{b | data 4 | grad 1}"
    assert attr(nodes["v9"], "label") == "{data 1.5 | grad 1}"
    assert [n for n in nodes if n.startswith("o")] == ["o2", "o5", "o6", "o8", "o9"]
    assert [attr(nodes[n], "label") for n in ("o2", "o6", "o9")] == ["mul", "add", "relu"]
    assert len(edges) == 5 + 9  # op -> value for 5 ops, 2 + 2 + 2 + 2 + 1 inputs


def test_roles_are_styled_distinctly():
    x = ag.tensor([1.0, 2.0])  # input
    w = ag.tensor([0.5, -1.0], requires_grad=True)  # parameter
    y = (x * w + 3.0).sum()
    nodes, _ = statements(to_dot(y))
    fills = {attr(nodes[k], "fillcolor") for k in ("v0", "v1", "v3", "v5")}
    assert len(fills) == 4  # input, parameter, constant, output
    assert attr(nodes["v2"], "fillcolor") is None  # an intermediate value
    assert "bold" in attr(nodes["v5"], "style")
    assert attr(nodes["v3"], "label") == "3" and attr(nodes["v3"], "shape") == "box"


# ---------------------------------------------------------------------- determinism
DETERMINISM_SCRIPT = """
import numpy as np
import autograd_core as ag
from autograd_core.engine import STATE
x = ag.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
w = ag.tensor(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
STATE.scope = ("Net", "fc")
h = (x @ w).tanh()
STATE.scope = ()
s = ag.Scalar(0.5)
loss = (h * h).sum() + h.mean()
loss.backward(retain_graph=True)
unused = ag.tensor([1.0], requires_grad=True)
params = {"w": w, "unused": unused}
parts = [ag.to_dot(loss, params=params, path=True), ag.to_dot(loss, collapse=0),
         ag.to_dot((s * s + s).exp(), rankdir="TB")]
print("\\n=====\\n".join(parts))
"""


def test_dot_is_identical_across_processes():
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=120, check=True)
        runs.append(proc.stdout)
    assert runs[0] == runs[1]
    assert "subgraph cluster_0" in runs[0] and "=====" in runs[0]
    assert not re.search(r"\b0x[0-9a-f]{6,}|\d{9,}", runs[0])  # no addresses or id()s


# ---------------------------------------------------------------------- rendering
def svg_counts(path):
    root = ET.parse(path).getroot()
    classes = [g.get("class") for g in root.iter(f"{SVG}g")]
    return classes.count("node"), classes.count("edge"), classes.count("cluster")


@needs_dot
def test_rendered_svg_has_every_node_edge_and_cluster(tmp_path):
    out, _ = neuron()
    path = render(out, path=tmp_path / "neuron.svg")
    assert path == tmp_path / "neuron.svg"
    assert svg_counts(path) == (15, 14, 0)  # 5 leaves + 5 ops x (op, value)
    loss, params = mlp()
    path = render(loss, params=params, path=tmp_path / "mlp.svg")
    ops, inputs = 8, 2 + 2 + 1 + 2 + 2 + 2 + 1 + 2  # matmul add relu matmul add mul sum div
    assert svg_counts(path) == (2 * ops + 5 + 1, ops + inputs, 4)  # 5 leaves, 1 constant
    assert svg_counts(render(loss, path=tmp_path / "c.svg", collapse=0))[2] == 0


@needs_dot
def test_render_formats_and_draw(tmp_path):
    out, _ = neuron()
    assert render(out, path=tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert render(out, path=tmp_path / "g.pdf").read_bytes()[:4] == b"%PDF"
    assert render(out, path=tmp_path / "g", format="svg").read_bytes().lstrip().startswith(b"<")
    with pytest.raises(ValueError, match="does not match"):
        render(out, path=tmp_path / "g.png", format="svg")
    with pytest.raises(ValueError, match="format must be one of"):
        render(out, path=tmp_path / "g", format="gif")
    g = draw(out)
    assert g.source == to_dot(out)
    assert "<svg" in g._repr_mimebundle_()["image/svg+xml"]  # what Jupyter displays


@needs_dot
def test_special_characters_in_names_survive_rendering(tmp_path):
    w = ag.Scalar(1.0, name='a{b}|<c> "q" \\d')
    svg = render(w * 2.0, path=tmp_path / "s.svg").read_text(encoding="utf-8")
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert 'a{b}|<c> "q" \\d' in texts


# ---------------------------------------------------------------------- deep graphs, folding
def test_deep_chain_uncollapsed_is_walked_iteratively():
    steps = 3 * sys.getrecursionlimit()
    nodes, edges = statements(to_dot(chain(steps)))
    assert sum(k.startswith("o") for k in nodes) == 2 * steps
    # y0; per op: op and value; the two constants, drawn once each (a repeated number is
    # one shared constant, in Scalar graphs as in Tensor graphs)
    assert len(nodes) == 1 + 2 * steps * 2 + 2
    assert len(edges) == 2 * steps * 3


def test_chain_folds_into_one_counted_node():
    y = chain(1000)
    nodes, edges = statements(to_dot(y, collapse=0))
    assert list(nodes) == ["v0", "g0"]
    label = attr(nodes["g0"], "label")
    assert label.split("\\n") == ["(mul add) × 1000", "2000 ops: mul add", "in scalar",
                                  "out scalar", "2 constants"]
    assert "bold" in attr(nodes["g0"], "style")  # holds the output
    assert [(s, d) for s, d, _ in edges] == [("v0", "g0")]
    assert len(statements(to_dot(y, collapse=0, fold_repeats=None))[0]) == len(
        statements(to_dot(y))[0])


def test_fold_keeps_the_unrepeated_head_and_tail():
    x = ag.Scalar(0.5, name="x")
    y = x.exp()
    for _ in range(10):
        y = y * 2.0 + 1.0
    y = y.tanh()
    nodes, _ = statements(to_dot(y, collapse=0))
    assert [attr(t, "label") for k, t in nodes.items() if k.startswith("o")] == ["exp", "tanh"]
    runs = [attr(t, "label") for k, t in nodes.items() if k.startswith("g")]
    assert len(runs) == 1 and runs[0].startswith("(mul add) × 10\\n")
    assert len(nodes) == 1 + 2 + 1 + 2  # x, exp (op, value), run, tanh (op, value)


@pytest.mark.parametrize(("ids", "found"), [
    ([0, 1, 0, 1, 0, 1, 2], [(0, 2, 3)]),
    ([0, 0, 1, 0, 0, 1, 0, 0, 1], [(0, 3, 3)]),
    ([5, 0, 0, 0, 0, 7, 7, 7], [(1, 1, 4), (5, 1, 3)]),
    ([0, 1, 2, 3], []),
    ([0, 1, 0, 1, 0, 1, 0, 1], [(0, 2, 4)]),
])
def test_repeat_finder(ids, found):
    assert _repeats(ids, 3) == found


@pytest.mark.slow
def test_million_node_chain_draws_collapsed():
    steps = 500_000  # two ops per step: 1,000,000 recorded nodes (+ 1,000,000 constants)
    y = chain(steps)
    nodes, _ = statements(to_dot(y, collapse=0))
    assert list(nodes) == ["v0", "g0"]
    assert attr(nodes["g0"], "label").startswith(f"(mul add) × {steps}\\n{2 * steps} ops")


# ---------------------------------------------------------------------- modules
def test_modules_are_drawn_as_nested_clusters():
    loss, params = mlp()
    dot = to_dot(loss, params=params)
    where = clusters_of(dot)
    nodes, _ = statements(dot)
    by_name = {attr(t, "label").strip("{").split(" |")[0]: k for k, t in nodes.items()}
    assert where[by_name["fc1.weight"]] == ("MLP", "MLP.fc1")
    assert where[by_name["fc2.bias"]] == ("MLP", "MLP.fc2")
    assert where["o5"] == ("MLP", "MLP.act")  # relu
    assert where["v0"] == ()  # the input stays outside every module
    assert where["o13"] == ()  # the loss is outside the model


def test_collapse_depth_folds_modules_with_their_shapes():
    loss, params = mlp()
    nodes, edges = statements(to_dot(loss, params=params, collapse=0))
    (model,) = [t for k, t in nodes.items() if k.startswith("g")]
    assert attr(model, "label").split("\\n") == [
        "MLP", "5 ops: matmul add relu", "in (4, 3)", "out (4, 2)", "4 params, 32 values"]
    assert ("v0", "g0") in [(s, d) for s, d, _ in edges]
    dot1 = to_dot(loss, params=params, collapse=1)
    nodes1, _ = statements(dot1)
    modules = {k: attr(t, "label").split("\\n")[0] for k, t in nodes1.items() if k[0] == "g"}
    assert sorted(modules.values()) == ["MLP.act", "MLP.fc1", "MLP.fc2"]
    assert all(clusters_of(dot1)[k] == ("MLP",) for k in modules)


def hundred_layer_mlp(depth=100):
    """loss of an 8-16-...-16-4 MLP whose layer k records under scope MLP.layers.k."""
    sizes = [8] + [16] * (depth - 1) + [4]
    h = ag.tensor(np.ones((2, 8), np.float32))
    for k in range(depth):
        w = ag.tensor(np.full((sizes[k], sizes[k + 1]), 0.01, np.float32), requires_grad=True)
        b = ag.zeros(sizes[k + 1], requires_grad=True)
        with scope("MLP", "layers", str(k)):
            h = (h @ w + b).relu()
    return h.sum()


def test_hundred_layer_mlp_stays_readable():
    depth, loss = 100, hundred_layer_mlp(100)
    nodes, _ = statements(to_dot(loss, collapse=2))
    labels = [attr(t, "label") for k, t in nodes.items() if k.startswith("g")]
    assert [s.split("\\n")[0] for s in labels] == [
        "MLP.layers.0", "MLP.layers.1 ...", "MLP.layers.99"]
    assert labels[1].split("\\n")[1:4] == ["MLP.layers.98", "× 98", "294 ops: matmul add relu"]
    assert len(nodes) == 1 + 3 + 2  # input, three folded nodes, sum (op, value)
    every_layer, _ = statements(to_dot(loss, collapse=2, fold_repeats=None))
    assert sum(k.startswith("g") for k in every_layer) == depth


@needs_dot
def test_hundred_layer_mlp_renders_as_six_boxes_in_two_clusters(tmp_path):
    path = render(hundred_layer_mlp(), collapse=2, path=tmp_path / "deep.svg")
    assert svg_counts(path) == (6, 5, 2)


def test_real_nn_module_is_clustered_and_named():
    nn = pytest.importorskip("nn")
    if not all(hasattr(nn, n) for n in ("Sequential", "Linear", "ReLU")):
        pytest.skip("the nn package does not provide Sequential/Linear/ReLU yet")
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = model(ag.tensor(np.ones((5, 3), np.float32))).sum()
    dot = to_dot(loss, module=model)
    names = [name for name, _ in model.named_parameters()]
    assert all(f"{{{name} |" in dot for name in names)
    assert "subgraph cluster_" in dot
    nodes, _ = statements(to_dot(loss, module=model, collapse=0))
    assert sum(k.startswith("g") for k in nodes) == 1


# ---------------------------------------------------------------------- backward overlay
def test_overlay_is_on_only_after_backward():
    out, _ = neuron()
    assert "penwidth" not in to_dot(out)
    assert "penwidth" in to_dot(out, overlay=True)  # forced before backward: no .grad change
    assert out._parents[0]._parents[1].grad == 0.0
    out.backward()
    assert "penwidth" in to_dot(out)
    assert "penwidth" not in to_dot(out, overlay=False)


def test_edge_width_follows_log_gradient_magnitude():
    a, b = ag.Scalar(1.0, name="a"), ag.Scalar(1.0, name="b")
    y = a * 1000.0 + b * 0.001
    y.backward(retain_graph=True)
    _, edges = statements(to_dot(y))
    into = {s: a for s, d, a in edges if s in ("v0", "v3")}  # a -> mul, b -> mul
    # widths span 6 decades below the largest gradient (1000): 1e-3 is the thinnest
    assert attr(into["v0"], "penwidth") == "4.00" and attr(into["v0"], "tooltip") == "grad 1000"
    assert attr(into["v3"], "penwidth") == "0.60" and attr(into["v3"], "tooltip") == "grad 0.001"
    assert attr(into["v0"], "color") != attr(into["v3"], "color")
    const_edges = [a for s, d, a in edges if s in ("v1", "v4")]
    assert all(attr(t, "style") == "dashed" for t in const_edges)  # no gradient flows there


def test_each_edge_carries_its_own_share_of_a_reused_value():
    xs = np.array([3.0, -4.0, 12.0], np.float32)
    x = ag.tensor(xs, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    nodes, edges = statements(to_dot(y))
    shares = [attr(t, "tooltip") for s, d, t in edges if (s, d) == ("v0", "o1")]
    assert shares == [f"grad {np.linalg.norm(xs):.4g}"] * 2  # d(x*x)/dx split over 2 slots
    label = attr(nodes["v0"], "label")
    g = 2 * xs
    assert f"grad norm {np.linalg.norm(g):.4g} [{g.min():.4g}, {g.max():.4g}]" in label


def test_path_highlights_parameters_and_greys_out_unused_ones():
    loss, params = mlp()
    unused = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    loss.backward(retain_graph=True)
    nodes, edges = statements(to_dot(loss, params={**params, "head.weight": unused}, path=True))
    assert attr(nodes["x0"], "label") == (
        "{head.weight | (3,) float32 | no gradient: not in this graph}")
    assert "dashed" in attr(nodes["x0"], "style")
    colour = {(s, d): attr(t, "color") for s, d, t in edges}
    assert colour[("v1", "o2")] == "#e6550d"  # fc1.weight -> matmul: on a loss->param path
    assert colour[("v0", "o2")] == "#c8c8c8"  # the input x is on no such path
    assert attr(nodes["v0"], "fontcolor") == "#a0a0a0"
    only_fc2 = statements(to_dot(loss, path=[params["fc2.weight"]]))[1]
    assert {(s, d): attr(t, "color") for s, d, t in only_fc2}[("v1", "o2")] == "#c8c8c8"


def ids_and_edges(dot):
    nodes, edges = statements(dot)
    return list(nodes), [(a, b) for a, b, _ in edges]


def grads_shown(dot):
    return {k: [g.strip() for g in re.findall(r"grad [^|}]*", attr(t, "label") or "")]
            for k, t in statements(dot)[0].items()}


@pytest.mark.parametrize("make", [neuron, mlp], ids=["scalar neuron", "tensor mlp"])
def test_a_plain_backward_leaves_the_whole_graph_to_draw(make):
    """The seeds' and micrograd's flow: backward() (no retain_graph), then draw."""
    out, _ = make()
    before = to_dot(out)
    out.backward()
    after = to_dot(out)
    assert ids_and_edges(after) == ids_and_edges(before)  # same nodes, same edges
    kept, _ = make()
    kept.backward(retain_graph=True)
    assert grads_shown(after) == grads_shown(to_dot(kept))  # the same backward overlay
    assert "penwidth" in after  # the overlay is on: leaves hold gradients
    assert statements(to_dot(out, show_grad=False))[0].keys() == statements(after)[0].keys()
    assert "grad " not in to_dot(out, show_grad=False, overlay=False)
    for text in statements(after)[0].values():  # every leaf shows its data
        if "#fff2cc" in text or "#e8e8e8" in text:
            assert "data " in attr(text, "label")
    if make is neuron:  # Scalars keep every value: the picture is the retained one
        assert after == to_dot(kept)


def test_only_values_that_were_freed_are_drawn_freed():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    w = ag.tensor([[2.0, 0.0], [0.0, 3.0]], requires_grad=True)
    held = x @ w  # the user holds it: its value is alive
    loss = ((held + 1.0) * 0.5).sum()  # nobody holds held + 1 and no rule reads it: freed
    nodes, _ = statements(to_dot(loss, overlay=False))
    labels = [attr(t, "label") for t in nodes.values()]
    assert sum("value freed" in label for label in labels) == 2  # dropped, and dropped*0.5
    assert any("data [2, 6]" in label and "value freed" not in label for label in labels)
    loss.backward()
    nodes, _ = statements(to_dot(loss))
    freed = [k for k, t in nodes.items() if "value freed" in attr(t, "label")]
    assert all("dashed" in attr(nodes[k], "style") for k in freed) and len(freed) == 2
    assert "grad norm" in attr(nodes[freed[0]], "label")  # the overlay recomputed it


def test_overlay_after_the_parameters_changed_is_refused_clearly():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    loss = ((x * 3.0).exp() * 2.0).sum()  # mul by 2 saves exp's output, which dies below
    loss.backward()
    with ag.no_grad():
        x -= 0.1 * x.grad  # an optimizer step: replaying the forward would now lie
    assert "penwidth" not in to_dot(loss)  # auto: no overlay, still the whole graph
    with pytest.raises(ValueError, match=r"overlay=True needs every value.*modified in place"):
        to_dot(loss, overlay=True)


# ---------------------------------------------------------------------- NaN / Inf
def test_forward_nan_is_red_and_its_origin_marked():
    x = ag.tensor([1.0, -1.0, 4.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = (x.log() * 2.0).exp().sum()
    y.backward(retain_graph=True)
    nodes, _ = statements(to_dot(y))
    origins = [k for k, t in nodes.items() if "origin" in t]
    assert origins == ["v1"] and "NaN origin (log)" in attr(nodes["v1"], "label")
    assert attr(nodes["v1"], "penwidth") == "3"
    red = [k for k, t in nodes.items() if attr(t, "fillcolor") == "#ff7b7b"]
    assert red == ["v0", "v1", "v3", "v4", "v5"]  # x (its grad is NaN), log, mul, exp, sum
    assert "grad norm nan" in attr(nodes["v0"], "label")
    folded, _ = statements(to_dot(y, collapse=0, fold_repeats=2))
    assert "NaN origin (log)" in str(folded)


def test_backward_inf_origin_names_the_rule():
    w = ag.Scalar(0.0, name="w")
    z = (w ** 0.5) * 3.0 + 1.0  # finite forward; d sqrt(w)/dw = inf at 0
    z.backward(retain_graph=True)
    nodes, edges = statements(to_dot(z))
    assert math.isinf(w.grad)
    assert [k for k, t in nodes.items() if "origin" in t] == ["v0"]
    assert "Inf origin in grad (from pow)" in attr(nodes["v0"], "label")
    assert [attr(t, "color") for s, d, t in edges if s == "v0"] == ["#d62728"]


def test_anomaly_mode_adds_the_creation_site_and_does_not_stop_the_overlay():
    x = ag.tensor([1.0, -1.0], requires_grad=True)
    with ag.detect_anomaly(), np.errstate(invalid="ignore"):
        y = x.log().sum()
        dot = to_dot(y, overlay=True)  # backward here would raise in anomaly mode
    label = attr(statements(dot)[0]["v1"], "label")
    assert re.search(r"NaN origin \(log\) \| at tests.test_viz\.py:\d+ in test_anom", label)


# ---------------------------------------------------------------------- missing dot
def test_missing_dot_gives_one_clear_error(monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot anywhere
    out, _ = neuron()
    assert "digraph" in to_dot(out)  # needs only the Python package
    for call in (lambda: draw(out), lambda: render(out, path=tmp_path / "g.svg")):
        with pytest.raises(GraphvizNotFoundError) as info:
            call()
        assert isinstance(info.value, RuntimeError)
        message = str(info.value)
        for how in ("apt-get install graphviz", "brew install graphviz",
                    "conda install -c conda-forge graphviz"):
            assert how in message
        assert info.value.__cause__ is None
    assert not (tmp_path / "g.svg").exists()
    assert capfd.readouterr() == ("", "")


def test_dot_vanishing_after_the_check_is_reported_without_noise(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("autograd_core.viz.shutil.which", lambda name: "/usr/bin/dot")
    with pytest.raises(GraphvizNotFoundError) as info:
        render(ag.Scalar(1.0) * 2.0, path=tmp_path / "g.svg")
    assert info.value.__suppress_context__  # raised "from None": no chained subprocess error


# ---------------------------------------------------------------------- options
def test_options_are_checked():
    y = ag.Scalar(1.0) * 2.0
    with pytest.raises(TypeError, match="unknown option.*colapse"):
        to_dot(y, colapse=1)
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(y, rankdir="XY")
    with pytest.raises(ValueError, match="collapse"):
        to_dot(y, collapse=-1)
    with pytest.raises(ValueError, match="fold_repeats"):
        to_dot(y, collapse=0, fold_repeats=1)
    with pytest.raises(TypeError, match="root 0 is a float"):
        to_dot(1.0)
    with pytest.raises(TypeError, match="at least one"):
        to_dot()
    with pytest.raises(TypeError, match="named_parameters"):
        to_dot(y, module=object())
    assert "rankdir=TB" in to_dot(y, rankdir="TB")


def test_label_options():
    w = ag.Scalar(0.25, name="weight_with_a_long_name")
    y = w * 4.0
    y.backward(retain_graph=True)
    nodes, _ = statements(to_dot(y, max_label_len=12))
    assert attr(nodes["v0"], "label") == "{weight_wi... | data 0.25 | grad 4}"
    assert max(len(f) for f in attr(nodes["v0"], "label")[1:-1].split(" | ")) == 12
    nodes, _ = statements(to_dot(y, show_data=False, show_grad=False))
    assert attr(nodes["v0"], "label") == "{weight_with_a_long_name}"
    assert attr(nodes["v2"], "label") == "{scalar}"


def test_several_roots_and_names_from_a_module_object():
    class Toy:
        def __init__(self):
            self.w = ag.tensor([2.0], requires_grad=True)

        def named_parameters(self):
            yield "w", self.w

    toy = Toy()
    a, b = toy.w * 3.0, toy.w.exp()
    nodes, _ = statements(to_dot(a, b, module=toy))
    assert attr(nodes["v0"], "label").startswith("{w | (1,) float32")
    outputs = [k for k, t in nodes.items() if "bold" in (attr(t, "style") or "")]
    assert outputs == ["v2", "v3"]


# ---------------------------------------------------------------------- README picture
def test_readme_picture_is_up_to_date():
    committed = ROOT / "notebooks" / "img"
    assert readme_graph.dot_source() == (committed / "neuron.dot").read_text(encoding="utf-8"), (
        "run `python -m autograd_core.examples.readme_graph` and commit notebooks/img")


def test_committed_readme_svg_shows_the_whole_neuron():
    assert svg_counts(ROOT / "notebooks" / "img" / "neuron.svg") == (15, 14, 0)


def test_readme_generator_writes_both_files(tmp_path):
    assert readme_graph.main(["--out-dir", str(tmp_path)]) == (0 if HAS_DOT else 1)
    assert (tmp_path / "neuron.dot").read_text(encoding="utf-8") == readme_graph.dot_source()
    assert (tmp_path / "neuron.svg").exists() == HAS_DOT
