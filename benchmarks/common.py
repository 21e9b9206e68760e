"""Pieces every workload shares: the Bench record, the workload spec, numpy optimizer maths."""

from __future__ import annotations

import importlib
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

Data = dict[str, np.ndarray]


class Unavailable(Exception):
    """A system whose package is not installed: its row is skipped with this note."""


def need(module: str, note: str | None = None) -> ModuleType:
    """Import ``module`` or raise `Unavailable` (so the row is skipped, not failed)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(note or f"{module} not installed ({exc})") from None


def need_nn() -> tuple[ModuleType, ModuleType]:
    """The project's ``nn`` and ``optim`` packages, once they import and have what we use."""
    try:
        nn = importlib.import_module("nn")
        optim = importlib.import_module("optim")
        for owner, names in ((nn, ("Linear", "Conv2d", "MaxPool2d", "functional")),
                             (optim, ("Adam", "SGD"))):
            for name in names:
                getattr(owner, name)
        nn.functional.cross_entropy  # noqa: B018  (probe: raises AttributeError if missing)
    except (ImportError, AttributeError) as exc:
        raise Unavailable(f"nn/optim not available ({exc})") from None
    return nn, optim


@dataclass
class Bench:
    """One system set up for one workload.

    ``step`` runs one timed iteration; ``check`` returns the values compared across
    systems after a step (loss, and gradients where a workload has no update).
    """

    step: Callable[[], Any]
    check: Callable[[], dict[str, list[float]]]


@dataclass
class Workload:
    """A benchmark: its data, one builder per system, how long to time it, its targets.

    ``systems`` is ordered: the first one that runs is the reference for the agreement
    check.  ``targets`` holds ``(system, peer, max_ratio, label)`` rows checked in the
    table.  ``unit`` turns a median in seconds into the workload's own unit.
    """

    id: str
    title: str
    make_data: Callable[[np.random.Generator], Data]
    systems: dict[str, Callable[[Data], Bench]]
    schedule: dict[str, tuple[int, int]]  # mode -> (warm-ups, timed repeats)
    check_steps: int = 1
    rtol: float = 1e-4
    atol: float = 1e-6
    targets: Sequence[tuple[str, str, float, str]] = ()
    unit: tuple[str, float] | None = None  # (label, factor from seconds)
    measure: Callable[[Bench], dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


PROBE_INPUT = np.ones(16, np.float32)
PROBE_SLACK = 1.25  # how much slower than the fastest probe still counts as full speed


def probe_seconds(calls: int = 100) -> float:
    """Seconds for ``calls`` 16-float ``np.tanh`` calls: the machine's speed right now, as
    ``--wait-fast`` reads it (~0.05 ms at full speed on the 2-core VM, twice that in a slow
    spell)."""
    t0 = time.perf_counter()
    for _ in range(calls):
        np.tanh(PROBE_INPUT)
    return time.perf_counter() - t0


def batch_cycle(*columns: Sequence[Any]) -> Callable[[], tuple[Any, ...]]:
    """A function returning the next ``(x, y, ...)`` of a fixed cycle of batches.

    Every system sees the same sequence.  Training on one repeated batch would memorise it
    within ~50 steps; its loss and gradients then underflow into float32 denormals, which
    slow every elementwise op more than tenfold and make the timings meaningless.
    """
    batches = itertools.cycle(list(zip(*columns, strict=True)))
    return lambda: next(batches)


def loss_bench(step_loss: Callable[[], float]) -> Bench:
    """A training-step Bench: ``step_loss`` runs one step and returns its loss, the check."""
    losses: list[float] = []

    def step() -> None:
        losses.append(step_loss())

    return Bench(step, lambda: {"loss": losses[-1:]})


def optimizer_step(opt: Any, loss_fn: Callable[[], Any]) -> Callable[[], float]:
    """The PyTorch-shaped step (PyTorch itself and our nn + optim): zero_grad, loss,
    backward, step; returns the loss as a float."""

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def compiled_step(ag: ModuleType, opt: Any, loss_of: Callable[..., Any],
                  next_batch: Callable[[], tuple[Any, ...]]) -> Callable[[], float]:
    """The same PyTorch-shaped step as `optimizer_step`, the whole of it (zero_grad, loss,
    backward, the update) under ``ag.compile``, the batch passed as its arguments."""

    @ag.compile
    def train(*batch: Any) -> Any:
        opt.zero_grad()
        loss = loss_of(*batch)
        loss.backward()
        opt.step()
        return loss

    def step() -> float:
        return train(*next_batch()).item()

    return step


def engine_step(ag: ModuleType, params: Sequence[Any], loss_fn: Callable[[], Any],
                update: AdamNumpy | SGDMomentumNumpy) -> Callable[[], float]:
    """The raw-engine step: clear grads, loss, backward, then ``update`` the parameters'
    arrays in place under ``no_grad()``; returns the loss as a float."""

    def step() -> float:
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        with ag.no_grad():
            update.step([p.grad.data for p in params])
        return loss.item()

    return step


def softmax_ce_numpy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of logits ``z`` (shifted in place) and d loss / d z."""
    rows = np.arange(len(y))
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(s[:, 0]) - z[rows, y])
    dz = e / s
    dz[rows, y] -= 1
    dz /= len(y)
    return float(loss), dz


def uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """PyTorch's default Linear/Conv init range, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32."""
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


class AdamNumpy:
    """Adam on raw arrays, in place, with PyTorch's formula (``torch.optim.Adam``, no decay).

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
    p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)   (Kingma & Ba 2015, Alg. 1).
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.scratch = [np.empty_like(p) for p in self.params]
        self.t = 0

    def step(self, grads: Sequence[np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.b1, self.b2
        step_size = self.lr / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        # Every result goes into m, v, p or a scratch array kept per parameter: a step
        # allocates nothing, which is most of what makes an Adam step fast.
        for p, g, m, v, scratch in zip(self.params, grads, self.m, self.v, self.scratch,
                                       strict=True):
            np.multiply(g, 1 - b1, out=scratch)
            m *= b1
            m += scratch
            np.multiply(g, g, out=scratch)
            scratch *= 1 - b2
            v *= b2
            v += scratch
            np.sqrt(v, out=scratch)
            scratch /= bc2_sqrt
            scratch += self.eps
            np.divide(m, scratch, out=scratch)
            scratch *= step_size
            p -= scratch


class SGDMomentumNumpy:
    """SGD with momentum on raw arrays, PyTorch's convention: buf = mu buf + g (buf = g at
    the first step); p -= lr buf (Sutskever et al. 2013 as implemented by torch.optim.SGD)."""

    def __init__(self, params: Sequence[np.ndarray], lr: float, momentum: float) -> None:
        self.params = list(params)
        self.lr, self.momentum = lr, momentum
        self.bufs: list[np.ndarray | None] = [None] * len(self.params)
        self.scratch = [np.empty_like(p) for p in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        for k, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            buf = self.bufs[k]
            if buf is None:
                buf = self.bufs[k] = g.astype(p.dtype, copy=True)
            else:
                buf *= self.momentum
                buf += g
            scratch = self.scratch[k]
            np.multiply(buf, self.lr, out=scratch)
            p -= scratch


def load_param(param: Any, value: np.ndarray) -> None:
    """Copy ``value`` into an nn parameter, transposing a (in, out) matrix to (out, in)."""
    target = param.data
    if target.shape == value.shape:
        target[...] = value
    elif value.ndim == 2 and target.shape == value.T.shape:
        target[...] = value.T
    else:
        raise ValueError(f"load_param: parameter of shape {target.shape} cannot take a value "
                         f"of shape {value.shape}")
