"""`Module` (the base class of every layer) and `Parameter` (a learnable tensor)."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from autograd_core import Tensor, backends
from autograd_core.engine import STATE
from autograd_core.tensor import _to_array

__all__ = ["IncompatibleKeys", "Module", "Parameter"]

# The modules whose forward is running, innermost last, with the scope each pushed.
_RUNNING: list[tuple[Module, tuple[str, ...]]] = []


class Parameter(Tensor):
    """A Tensor that a `Module` learns: a floating-point leaf that requires grad.

    Assigning one to a module attribute registers it, so it shows up in ``parameters()``
    and ``state_dict()``.  It requires grad from birth (a parameter that never trains
    because someone forgot ``requires_grad=True`` is a known trap); freezing it is an
    explicit ``requires_grad_(False)``.  Built from a Tensor it shares that tensor's data.

    >>> w = Parameter([[1.0, 2.0]])
    >>> w.requires_grad, w.dtype, w.is_leaf
    (True, dtype('float32'), True)
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        # From a Tensor: its data, shared (as torch.nn.Parameter); anything else is copied.
        self._init(data.data if isinstance(data, Tensor) else _to_array(data, None, True),
                   requires_grad)
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter: parameters must be floating point, got dtype "
                            f"{self.data.dtype}")

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _cast(array: Any, dtype: np.dtype) -> Any:
    """``array`` as ``dtype`` (numpy's name for it, in the array's own library)."""
    if isinstance(array, np.ndarray):
        return array.astype(dtype)
    return backends.namespace(array).astype(array, backends.dtype_for(array, dtype))


class Module:
    """Base class of layers and models: subclasses set attributes in ``__init__`` (after
    calling ``super().__init__()``) and define ``forward``; ``module(x)`` runs ``forward``.

    Attributes that are `Parameter`s, sub-`Module`s or buffers (``register_buffer``) are
    registered by name; ``named_parameters()``, ``state_dict()`` and the repr walk them in
    registration order, with dotted names such as ``"layers.0.weight"``.

    Scope recording (for graph drawings): while ``forward`` runs, the module sets
    ``autograd_core.engine.STATE.scope`` to its path, and every node recorded meanwhile
    keeps that tuple in ``node._meta["scope"]`` (the previous scope is restored after).
    A module's name is the attribute name its parent registered it under (``"fc"``, or
    ``"0"`` inside a container), and its class name when it has no parent.  Its path is
    the path of its nearest ancestor whose forward is running, followed by the names
    below it -- so containers that are indexed rather than called still appear: a node
    made inside ``model.layers[0].fc`` of an ``MLP`` has scope
    ``("MLP", "layers", "0", "fc")``.  With no running ancestor, the path starts at the
    top-level ancestor's class name, inside whatever scope is current.

    >>> import autograd_core as ag
    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = Parameter([2.0])
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> m = Affine()
    >>> m(ag.tensor([3.0])).tolist(), [name for name, _ in m.named_parameters()]
    ([6.0], ['scale'])
    """

    training: bool
    _scope_name: str | None = None
    _scope_parent: weakref.ref[Module] | None = None
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _modules: dict[str, Module | None]
    _non_persistent: set[str]

    def __init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_modules", {})
        setattr_(self, "_non_persistent", set())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: forward() is not defined")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if STATE.tracer is not None:  # ag.compile replays the plan only in this mode
            STATE.tracer.module(self)
        prev = STATE.scope
        scope = self._scope(prev)
        STATE.scope = scope
        _RUNNING.append((self, scope))
        try:
            return self.forward(*args, **kwargs)
        finally:
            _RUNNING.pop()
            STATE.scope = prev

    def _scope(self, current: tuple[str, ...]) -> tuple[str, ...]:
        """This module's path (see the class docstring): names up the parent chain until
        an ancestor whose forward is running."""
        names = []
        node = self
        while True:
            parent = node._scope_parent() if node._scope_parent is not None else None
            if parent is None:
                names.append(type(node).__name__)
                base = current
                break
            names.append(node._scope_name or type(node).__name__)
            running = [scope for module, scope in _RUNNING if module is parent]
            if running:
                base = running[-1]
                break
            node = parent
        return (*base, *reversed(names))

    # ------------------------------------------------------------------ registration
    def _registry(self, what: str) -> dict:
        registry = self.__dict__.get(what)
        if registry is None:
            raise AttributeError(f"cannot assign {what[1:]} before {type(self).__name__}."
                                 f"__init__() called super().__init__()")
        return registry

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._forget(name)
            self._registry("_parameters")[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._registry("_modules")[name] = value
            value._adopt(self, name)
        elif name in d.get("_parameters", ()):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter "
                                f"'{name}' (nn.Parameter or None expected)")
            d["_parameters"][name] = None
        elif name in d.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"'{name}' (nn.Module or None expected)")
            d["_modules"][name] = None
        elif name in d.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                f"(Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _adopt(self, parent: Module, name: str) -> None:
        """Remember where this module was registered (weakly: no reference cycle).  The
        first parent keeps it: a module later also put in a slice of a container, or
        shared with a second model, keeps its original path."""
        current = self._scope_parent() if self._scope_parent is not None else None
        if current is None or current is parent:
            object.__setattr__(self, "_scope_name", name)
            object.__setattr__(self, "_scope_parent", weakref.ref(parent))

    def _forget(self, name: str) -> None:
        """Drop ``name`` from wherever it was registered before being reassigned."""
        d = self.__dict__
        d.pop(name, None)
        for what in ("_parameters", "_buffers", "_modules"):
            removed = d.get(what, {}).pop(name, None)
            if isinstance(removed, Module):
                removed._orphan(self)
        d.get("_non_persistent", set()).discard(name)

    def _orphan(self, parent: Module) -> None:
        """``parent`` no longer holds this module: forget it as the scope parent."""
        if self._scope_parent is not None and self._scope_parent() is parent:
            object.__setattr__(self, "_scope_parent", None)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails; reads __dict__ directly so that copying and
        # unpickling (which probe attributes before __init__ ran) cannot recurse.
        d = self.__dict__
        for what in ("_parameters", "_buffers", "_modules"):
            registry = d.get(what)
            if registry is not None and name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for what in ("_parameters", "_buffers", "_modules"):
            if name in d.get(what, ()):
                self._forget(name)
                return
        object.__delattr__(self, name)

    def _register(self, what: str, name: str, value: Any, kind: type, who: str) -> None:
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{who}: '{name}' must be a {kind.__name__} or None, got "
                            f"{type(value).__name__}")
        self._forget(name)
        self._registry(what)[name] = value

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a ``None`` placeholder, e.g. a disabled bias) as ``name``."""
        self._register("_parameters", name, param, Parameter, "register_parameter")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True
                        ) -> None:
        """Register state that is not learned (e.g. batch norm's running mean).

        Buffers are saved in ``state_dict`` (unless ``persistent=False``) and converted by
        ``to(dtype)``, but are not returned by ``parameters()``.
        """
        self._register("_buffers", name, tensor, Tensor, "register_buffer")
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (same as ``setattr``)."""
        self._register("_modules", name, module, Module, "add_module")
        if module is not None:
            module._adopt(self, name)

    register_module = add_module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first in registration order."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            children = [(f"{name}.{key}" if name else key, child)
                        for key, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, what: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        seen: set[int] = set()
        for module_name, module in modules:
            for name, value in getattr(module, what).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two modules appears once."""
        yield from self._named_members("_parameters", prefix, recurse,  # type: ignore[misc]
                                       remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module, children before parents (as PyTorch), then on
        ``self``; returns self.  Typical use: custom initialisation."""
        seen: set[int] = set()
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:
            module, expanded = stack.pop()
            if expanded:
                fn(module)
            elif id(module) not in seen:
                seen.add(id(module))
                stack.append((module, True))
                stack.extend((child, False) for child in reversed(list(module.children())))
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on every sub-module."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: batch norm uses running statistics, dropout is the identity."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (``False``) or unfreeze every parameter."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients: ``.grad = None`` (or a fresh zero tensor)."""
        if STATE.tracer is not None:  # ag.compile: the replay clears the grads here too
            return STATE.tracer.run(functools.partial(self.zero_grad, set_to_none))
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad = Tensor(np.zeros_like(param.data))

    def to(self, where: Any = None, dtype: Any = None) -> Module:
        """Move every parameter and buffer to another array library or device (``where``: a
        namespace such as ``array_api_strict``, ``cupy`` or ``numpy``, or a device of the
        current library), and/or cast the floating-point ones to ``dtype``; a dtype alone
        as ``where`` casts (``model.to("float64")``, as torch).  In place on the module:
        parameters stay the same objects, so optimizers keep tracking them (their state
        must be made after the move, as in PyTorch)."""
        if dtype is not None:
            return self.to(where).to(dtype)
        if where is None:
            return self
        if not backends.is_dtype(where):
            for value in (*self.parameters(), *self.buffers()):
                value.data = backends.move(value.data, where)
                if value.grad is not None:
                    value.grad = Tensor(backends.move(value.grad.data, where))
            return self
        dt = np.dtype(where)
        if dt.kind != "f":
            raise TypeError(f"to: only floating dtypes are allowed, got {dt}")
        for value in (*self.parameters(), *self.buffers()):
            if backends.is_floating(value.data.dtype):
                value.data = _cast(value.data, dt)
                if value.grad is not None:
                    value.grad = Tensor(_cast(value.grad.data, dt))
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ------------------------------------------------------------------ state dict
    def _state_tensors(self) -> dict[str, Tensor]:
        """The tensors ``state_dict`` saves, by dotted name (the live objects)."""
        out: dict[str, Tensor] = {}
        for module_name, module in self.named_modules():
            head = f"{module_name}." if module_name else ""
            for name, value in (*module._parameters.items(), *module._buffers.items()):
                if value is not None and name not in module._non_persistent:
                    out[head + name] = value
        return out

    def state_dict(self) -> dict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, as detached copies.

        Unlike PyTorch the values are copies, not views: optimizers update parameters in
        place, and a saved "best" state must not change with them.  Round-trips through
        ``numpy.savez(path, **model.state_dict())`` and ``np.load``.
        """
        return {key: Tensor(value.data.copy()) for key, value in self._state_tensors().items()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, *,
                        strict_finite: bool = False) -> IncompatibleKeys:
        """Copy values from ``state_dict`` (Tensors, arrays, or an ``np.load`` npz file).

        Every shape must match; with ``strict`` every key must match too; with
        ``strict_finite`` every value must be finite (off by default, as PyTorch, which
        loads NaN and inf).  On any problem nothing is loaded and one error lists all
        missing keys, unexpected keys, shape mismatches and non-finite values.  Values are
        cast to the dtype of the tensor they replace.
        """
        targets = self._state_tensors()
        keys = list(state_dict.keys())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in keys if k not in targets]
        arrays: dict[str, np.ndarray] = {}
        mismatches = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.shape != target.data.shape:
                mismatches.append(
                    f"size mismatch for {key}: copying a value with shape {arr.shape} from "
                    f"the state dict, the shape in the current model is {target.data.shape}.")
            arrays[key] = arr
        if strict_finite:
            mismatches += [f"non-finite values in {key}: {int(np.sum(~np.isfinite(a)))} of "
                           f"{a.size} are NaN or inf" for key, a in arrays.items()
                           if a.dtype.kind in "fc" and not np.isfinite(a).all()]
        problems = []
        if strict and missing:
            problems.append("Missing key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in unexpected) + ".")
        problems += mismatches
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(problems))
        for key, arr in arrays.items():
            target = targets[key]
            target.data = np.array(arr, dtype=target.data.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr line (override me)."""
        return ""

    def __repr__(self) -> str:
        # Recursion depth is the nesting depth of modules, not the size of any graph.
        lines = [f"({name}): " + _indent(repr(child))
                 for name, child in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"

    def __getstate__(self) -> dict[str, Any]:
        # A weak reference cannot be pickled or deep-copied; __setstate__ of the parent
        # restores it.
        state = self.__dict__.copy()
        state.pop("_scope_parent", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name, child in self._modules.items():
            if child is not None:
                child._adopt(self, name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._parameters, *self._buffers, *self._modules})


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")
