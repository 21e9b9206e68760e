"""Containers: `Sequential` (a chain of modules) and `ModuleList` (an indexable list)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .module import Module

__all__ = ["ModuleList", "Sequential"]


def _index(i: int, n: int, who: str) -> int:
    if not -n <= i < n:
        raise IndexError(f"{who}: index {i} is out of range for {n} modules")
    return i % n


class _Container(Module):
    """Children named "0", "1", ... in order: length, iteration and append."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def append(self, module: Module) -> Any:
        """Add ``module`` at the end; returns the container."""
        self.add_module(str(len(self)), module)
        return self


class Sequential(_Container):
    """Modules applied one after the other; ``Sequential(OrderedDict(name=module))``
    names the children, otherwise they are ``"0"``, ``"1"``, ...

    >>> import autograd_core as ag
    >>> from nn import Linear, ReLU
    >>> net = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    >>> net(ag.zeros(5, 3)).shape, len(net), type(net[1]).__name__
    ((5, 2), 3, 'ReLU')
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, child in enumerate(modules):
                self.add_module(str(i), child)  # type: ignore[arg-type]

    def forward(self, input: Any) -> Any:  # noqa: A002  (PyTorch's name)
        out = input
        for module in self._modules.values():
            out = module(out)  # type: ignore[misc]
        return out

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))  # type: ignore[arg-type]
        return items[_index(index, len(items), "Sequential")][1]


class ModuleList(_Container):
    """A list of modules whose parameters are registered (a plain Python list hides them
    from ``parameters()``, and they would silently never train).

    >>> from nn import Linear
    >>> layers = ModuleList([Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])  # type: ignore[arg-type]
        return values[_index(index, len(values), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_index(index, len(self), "ModuleList")), module)

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(values):
            self.add_module(str(i), m)
