"""`Optimizer`: the PyTorch-shaped shell (param groups, state, step, state_dict) of an update."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.backends import namespace as _namespace
from autograd_core.backends import updates
from autograd_core.engine import STATE, bump_version

__all__ = ["Optimizer", "check_range", "owned", "work_array"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def check_range(owner: str, name: str, value: Any, low: float = 0.0, high: float = math.inf,
                *, low_open: bool = False, high_open: bool = True) -> None:
    """Raise a ValueError naming ``owner`` and ``name`` unless ``low <= value < high``.

    ``low_open`` / ``high_open`` choose strict or non-strict bounds.  NaN is always rejected.

    >>> check_range("SGD", "lr", 0.1)
    >>> check_range("SGD", "lr", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: SGD: invalid lr -1.0; it must lie in [0, inf)
    """
    try:
        ok = ((low < value) if low_open else (low <= value)) and \
             ((value < high) if high_open else (value <= high))
    except TypeError:
        raise TypeError(f"{owner}: {name} must be a real number, got "
                        f"{type(value).__name__} {value!r}") from None
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: invalid {name} {value!r}; it must lie in {interval}")


def owned(array: np.ndarray, inplace: bool) -> np.ndarray:
    """``array`` itself when an update runs in place, else a copy the update may write into
    (the updates write every result into arrays they own plus one work array, see
    `work_array`)."""
    return array if inplace else copy_of(array)


def copy_of(array: Any) -> Any:
    """A copy of an array of any library (numpy's C-ordered ``copy()`` for numpy)."""
    return array.copy() if isinstance(array, np.ndarray) else updates(array).copy(array)


def work_array(owner: str, scratch: np.ndarray | None, param: np.ndarray,
               grad: np.ndarray) -> np.ndarray | None:
    """Check an update's ``scratch`` argument: None (the update allocates its own), or an
    array of ``param``'s shape and dtype that shares memory with neither ``param`` nor
    ``grad`` (nor, the caller's duty, the state).

    The updates put their temporaries in it.  `Optimizer.step` runs them with
    ``inplace=True`` and a work array it keeps per parameter, so a step allocates nothing
    parameter-sized (bar L2 weight decay in Adam, RMSprop and Adagrad, and Nesterov's
    look-ahead): no memory for the allocator to hand back to the OS and fault in again on
    the next step.

    >>> work_array("sgd_update", np.empty(2, np.float32), np.zeros(3), np.zeros(3))
    Traceback (most recent call last):
    ...
    ValueError: sgd_update: scratch must match the parameter (shape (3,), float64), got
    shape (2,), float32
    """
    if scratch is None:
        return None
    if scratch.shape != param.shape or scratch.dtype != param.dtype:
        raise ValueError(f"{owner}: scratch must match the parameter (shape {param.shape}, "
                         f"{param.dtype}), got shape {scratch.shape}, {scratch.dtype}")
    xp = updates(param)
    if xp.may_share_memory(scratch, param) or xp.may_share_memory(scratch, grad):
        raise ValueError(f"{owner}: scratch must not share memory with the parameter or "
                         f"its gradient")
    return scratch


class Optimizer:
    """Base class: holds param groups and per-parameter state, and runs the update.

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ..., ...}``
    (param groups; keys missing from a group take the ``defaults``).  Each subclass sets

    - ``_update_fn``: its update ``(param, grad, state | None, *, inplace, **hyper) ->
      (new_param, new_state)`` on numpy arrays, where ``hyper`` are exactly the keys of
      ``defaults``; pure by default, in place on ``param`` and the state with ``inplace=True``;
    - ``_record``: the NamedTuple of its per-parameter state (used by ``load_state_dict``);
    - ``_validate(group)``: raises ValueError for a bad hyper-parameter.

    ``step`` runs the update in place on ``p.data`` (same array, same dtype) and its state,
    as ``torch.optim`` does, recording no graph, and bumps ``p``'s version so a graph that
    saved ``p`` before the step refuses to run backward.  ``self.state[p]`` is the
    algorithm's state record for ``p`` (created on ``p``'s first step).  The optimizer also
    keeps one work array per parameter for the update's temporaries (not part of
    ``state_dict``), so steps allocate no parameter-sized memory.

    Differences from PyTorch: a parameter listed twice raises (PyTorch only warns, and would
    update it twice); every param group is validated, not just the defaults; a set of
    parameters is rejected (its order is not reproducible).
    """

    _update_fn: ClassVar[Callable[..., tuple[np.ndarray, Any]]]
    _record: ClassVar[Any]  # the NamedTuple class of its per-parameter state

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts, but "
                            f"got a single Tensor; wrap it in a list: [{params._describe()}]")
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state: dict[Tensor, Any] = {}
        self._scratch: dict[Tensor, np.ndarray] = {}  # one work array per parameter
        self.param_groups: list[dict[str, Any]] = []
        groups = _ordered(name, params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join([*lines, ")"])

    def _validate(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (others from defaults).

        >>> import autograd_core as ag
        >>> from optim import SGD
        >>> opt = SGD([ag.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> opt.add_param_group({"params": [ag.tensor([2.0], requires_grad=True)], "lr": 0.5})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.5]
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a param group needs a 'params' entry; got keys "
                             f"{sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else _ordered(name, params)
        for k, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but parameter {k} of the "
                                f"group is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf tensor (parameter {k}, "
                                 f"{p._describe()}, produced by op '{p.op_name}')")
        # Identity, not ==: Tensor.__eq__ is elementwise.
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter appears twice in the same param group")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one param group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group["params"] = params
        self._validate(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad``: to None (default), or to a fresh zero tensor.

        A fresh tensor rather than zeroing in place, so a gradient someone still holds (or a
        ``create_graph`` graph that saved it) is never modified behind their back.
        """
        if STATE.tracer is not None:  # ag.compile: the replay clears the grads here too
            return STATE.tracer.run(functools.partial(self.zero_grad, set_to_none))
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else ag.zeros_like(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a ``.grad``; return ``closure()``'s loss, if given.

        ``closure`` re-evaluates the model (typically zero_grad, forward, backward) and
        returns the loss; it runs with grad mode on, the update itself with it off.
        """
        if STATE.tracer is not None:  # ag.compile: the replay runs this same update here
            if closure is not None:
                STATE.tracer.refuse("optimizer.step(closure)")
            return STATE.tracer.run(self.step)
        loss = None
        if closure is not None:
            with ag.enable_grad():
                loss = closure()
        # The update is plain numpy already; no_grad guarantees it can never record a graph.
        with ag.no_grad():
            for group in self.param_groups:
                hyper = {key: group[key] for key in self.defaults}
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    param = p.data
                    grad = p.grad.data
                    if grad.dtype != param.dtype:
                        grad = _namespace(param).astype(grad, param.dtype)
                    _, self.state[p] = type(self)._update_fn(
                        param, grad, self.state.get(p), inplace=True,
                        scratch=self._work_array(p, param), **hyper)
                    # A graph that saved p before this step must refuse to backward.
                    bump_version(p)
        return loss

    def _work_array(self, p: Tensor, param: np.ndarray) -> np.ndarray:
        scratch = self._scratch.get(p)
        # A new one if p.data was replaced by an array of another shape or dtype.
        if scratch is None or scratch.shape != param.shape or scratch.dtype != param.dtype:
            scratch = self._scratch[p] = updates(param).empty_like(param)
        return scratch

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as plain data, with parameters replaced by their index.

        Like PyTorch: ``{"state": {index: {field: value}}, "param_groups": [{..., "params":
        [indices]}]}``, indices counting parameters across groups in order.  Arrays are
        copies, so later steps do not change a saved state dict.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {field: _copy_value(v) for field, v in record._asdict().items()}
                 for p, record in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict()``: later steps continue the saved trajectory exactly.

        The optimizer must have the same number of groups and parameters per group; state
        arrays are copied and cast to their parameter's dtype.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"param groups, this optimizer {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{name}.load_state_dict: param group {k} has "
                                 f"{len(saved['params'])} parameters in the state dict but "
                                 f"{len(group['params'])} in this optimizer")
            by_index.update(zip(saved["params"], group["params"], strict=True))
        state = {}
        for i, fields in state_dict["state"].items():
            if i not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter index {i}, "
                                 f"which no param group lists")
            p = by_index[i]
            state[p] = self._load_record(fields, p, i)
        groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group["params"] = group["params"]
            self._validate(new_group)
            groups.append(new_group)
        self.state, self.param_groups = state, groups

    def _load_record(self, fields: dict[str, Any], p: Tensor, index: int) -> Any:
        expected = self._record._fields
        required = set(expected) - set(self._record._field_defaults)
        if set(fields) - set(expected) or required - set(fields):
            raise ValueError(f"{type(self).__name__}.load_state_dict: state of parameter "
                             f"{index} has fields {sorted(fields)}, expected {list(expected)}")
        values: dict[str, Any] = {}
        for field, v in fields.items():
            if v is None or field == "step":
                values[field] = v if v is None else int(np.asarray(v))
                continue
            arr = np.array(v, dtype=p.data.dtype)
            if arr.shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: state '{field}' of "
                                 f"parameter {index} has shape {arr.shape}, but the parameter "
                                 f"has shape {p.data.shape}")
            values[field] = arr
        return self._record(**values)


def _ordered(owner: str, params: Iterable[Any]) -> list[Any]:
    if isinstance(params, set | frozenset):
        raise TypeError(f"{owner}: parameters must be in an ordered collection (a list), "
                        f"not a set, whose order changes between runs")
    return list(params)


def _copy_value(v: Any) -> Any:
    return np.array(v, copy=True) if isinstance(v, np.ndarray) else v
