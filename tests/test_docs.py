"""docs/pytorch-compat.md lists every exported op, function and module."""

from pathlib import Path

import autograd_core as ag
import nn
import nn.functional as F

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "pytorch-compat.md").read_text(
    encoding="utf-8")


def listed(name: str) -> bool:
    return f"`{name}`" in PAGE


def test_every_tensor_function_is_listed():
    assert [n for n in ag.ops.__all__ if not listed(n)] == []


def test_every_functional_and_module_is_listed():
    assert [n for n in F.__all__ if not listed(n)] == []
    modules = [n for n in nn.__all__ if isinstance(getattr(nn, n), type)
               and issubclass(getattr(nn, n), nn.Module)]
    assert "Conv2d" in modules
    assert [n for n in modules if not listed(n)] == []
