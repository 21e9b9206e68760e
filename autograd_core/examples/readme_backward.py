"""Regenerate the README's backward frame: step 3 of the neuron's backward pass.

Run from the repository root::

    python -m autograd_core.examples.readme_backward   # writes notebooks/img/neuron_step3.{dot,svg}

The frame is one of ``viz.animate_backward``'s: the node of the current step outlined, the
gradients received so far on the value boxes, each edge labelled with the gradient it
carried.  The DOT source is deterministic and committed next to the SVG; a test checks that
it is what this module produces now.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import graphviz

from ..viz import _missing_dot
from ..viz.animate import backward_frames
from .readme_graph import neuron

STEP = 3  # mul(x2, w2) sends d(x2*w2)/dw2 = x2 = -1 to w2


def dot_source() -> str:
    """The DOT source of the README frame.

    >>> "step 3: x2*w2 = mul(x2, w2)" in dot_source()
    True
    """
    return backward_frames(neuron(backward=False))[1][STEP].source


def main(argv: list[str] | None = None) -> int:
    """Write ``neuron_step3.dot`` and ``.svg`` into ``--out-dir`` (default notebooks/img)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("notebooks/img"))
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    dot_path = args.out_dir / f"neuron_step{STEP}.dot"
    dot_path.write_text(dot_source(), encoding="utf-8")
    print(f"wrote {dot_path}")
    frame = backward_frames(neuron(backward=False))[1][STEP]
    svg_path = args.out_dir / f"neuron_step{STEP}.svg"
    try:
        svg_path.write_bytes(frame.pipe(format="svg"))
    except graphviz.ExecutableNotFound:
        print(_missing_dot("readme_backward"), file=sys.stderr)
        return 1
    print(f"wrote {svg_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
