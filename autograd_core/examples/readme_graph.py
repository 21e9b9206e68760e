"""Regenerate the README picture: the seeds' scalar neuron relu(x1*w1 + x2*w2 + b) after backward.

Run from the repository root::

    python -m autograd_core.examples.readme_graph          # writes notebooks/img/neuron.{dot,svg}

The DOT source is deterministic and committed next to the SVG; a test checks that it is
what this module produces now, so the picture cannot silently go stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..scalar import Scalar
from ..viz import GraphvizNotFoundError, render, to_dot


def neuron(backward: bool = True) -> Scalar:
    """relu(x1*w1 + x2*w2 + b) with inputs x1, x2 and parameters w1, w2, b, after backward
    (before it with ``backward=False``).

    The values are exact in binary, so the labels read the same on every machine.

    >>> neuron().data
    1.5
    """
    x1 = Scalar(2.0, requires_grad=False, name="x1")
    x2 = Scalar(-1.0, requires_grad=False, name="x2")
    w1, w2, b = Scalar(-0.5, name="w1"), Scalar(1.5, name="w2"), Scalar(4.0, name="b")
    x1w1, x2w2 = x1 * w1, x2 * w2
    x1w1.name, x2w2.name = "x1*w1", "x2*w2"
    total = x1w1 + x2w2
    total.name = "x1*w1 + x2*w2"
    n = total + b
    n.name = "n"
    out = n.relu()
    out.name = "out"
    if backward:
        out.backward()  # the graph survives backward: the picture shows the backward pass
    return out


def dot_source() -> str:
    """The DOT source of the README picture."""
    return to_dot(neuron())


def main(argv: list[str] | None = None) -> int:
    """Write ``neuron.dot`` and ``neuron.svg`` into ``--out-dir`` (default notebooks/img)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("notebooks/img"))
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    dot_path = args.out_dir / "neuron.dot"
    dot_path.write_text(dot_source(), encoding="utf-8")
    print(f"wrote {dot_path}")
    try:
        svg_path = render(neuron(), path=args.out_dir / "neuron.svg")
    except GraphvizNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"wrote {svg_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
