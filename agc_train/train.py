"""The main job: train an MLP or a CNN on the bundled digits and write weights, log, curves, graph.

Run ``agc-train --help`` (or ``python -m agc_train --help``).  Everything it
uses is the library itself: ``nn`` layers and losses, ``optim`` optimizers, the engine's
backward, and ``autograd_core.viz`` for the picture of the model's graph.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np

import autograd_core as ag
from agc_train.datasets import load_digits
from autograd_core import distributed, viz

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adam": 2e-3,
              "adamw": 2e-3}
CNN_LR_FACTOR = 1.5  # the CNN tolerates (and, in 40 epochs, needs) a larger step


def build_model(kind: str, batchnorm: bool, dropout: float) -> Any:
    """The two architectures on 1x8x8 inputs (no activation on the output layer: the logits
    go straight into softmax cross-entropy, seed 001 §4)."""
    import nn

    def block(*layers: Any) -> list[Any]:
        return [layer for layer in layers if layer is not None]

    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            *block(nn.Linear(64, 128), nn.BatchNorm1d(128) if batchnorm else None, nn.ReLU(),
                   nn.Dropout(dropout) if dropout else None),
            *block(nn.Linear(128, 64), nn.BatchNorm1d(64) if batchnorm else None, nn.ReLU(),
                   nn.Dropout(dropout) if dropout else None),
            nn.Linear(64, 10),
        )
    if kind == "cnn":
        return nn.Sequential(
            *block(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16) if batchnorm else None,
                   nn.ReLU(), nn.MaxPool2d(2)),                   # 16 x 4 x 4
            *block(nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32) if batchnorm else None,
                   nn.ReLU(), nn.MaxPool2d(2)),                   # 32 x 2 x 2
            nn.Flatten(),
            *block(nn.Dropout(dropout) if dropout else None, nn.Linear(128, 10)),
        )
    raise ValueError(f"unknown model {kind!r}; choose mlp or cnn")


def build_optimizer(name: str, params: Any, lr: float, weight_decay: float) -> Any:
    import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return optim.Momentum(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay or 1e-2)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def default_lr(model: str, optimizer: str) -> float:
    """The learning rate the defaults were measured with (see README)."""
    return DEFAULT_LR[optimizer] * (CNN_LR_FACTOR if model == "cnn" else 1.0)


def evaluate(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 512
             ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` in eval mode (no graph recorded)."""
    import nn

    model.eval()
    total, correct = 0.0, 0
    with ag.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(ag.Tensor(x[i:i + batch_size]))
            yt = y[i:i + batch_size]
            total += nn.functional.cross_entropy(logits, yt, reduction="sum").item()
            correct += int((logits.data.argmax(axis=1) == yt).sum())
    model.train()
    return total / len(y), correct / len(y)


def _progress(iterable: Any, total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar when tqdm is installed and stdout is a terminal; else the iterable."""
    if enabled and sys.stdout.isatty():
        try:
            from tqdm import tqdm

            return tqdm(iterable, total=total, desc=desc, leave=False)
        except ImportError:
            pass
    return iterable


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train as ``args`` says; returns the log that is also written to ``log.json``."""
    import nn

    comm = distributed.init() if args.workers > 1 else distributed.SingleProcessCommunicator()
    ag.manual_seed(args.seed)
    split = load_digits(seed=args.seed)
    # Statistics from the training images only (seed 001 §6.5): a mean image, or one
    # mean per channel with --augment (per-pixel statistics would blow up shifted
    # strokes on the near-constant border pixels).
    axis = (0, 2, 3) if args.augment else 0
    scaler = nn.data.Standardizer(axis=axis).fit(split.x_train)
    x_train, x_test = scaler.transform(split.x_train), scaler.transform(split.x_test)
    # Batches are drawn from the raw images: shift them (1-pixel random crops of the
    # zero-padded image, seed 001 §6.7) before standardising, so padding is background.
    shift = nn.data.RandomCrop(padding=1) if args.augment else None
    prepare = (lambda b: scaler.transform(shift(b))) if shift else scaler.transform
    model = build_model(args.model, args.batchnorm, args.dropout)
    net = model  # what the training forward calls: the model, or its data-parallel wrapper
    if comm.size > 1:
        net = nn.DistributedDataParallel(model, comm)  # rank 0's initial weights everywhere
        ag.manual_seed(args.seed + comm.rank)  # each rank its own shuffles, crops, dropout
    lr = args.lr if args.lr is not None else default_lr(args.model, args.optimizer)
    opt = build_optimizer(args.optimizer, model.parameters(), lr, args.weight_decay)
    sched = None
    if args.schedule == "cosine":  # anneal to 0 over the run: a steadier final epoch
        import optim

        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    train_set = nn.data.TensorDataset(split.x_train, split.y_train)
    sampler = None
    if comm.size > 1:  # each rank its shard, batch_size / workers of every global batch
        sampler = nn.data.DistributedSampler(train_set, comm.size, comm.rank, seed=args.seed)
        loader = nn.data.DataLoader(train_set, args.batch_size // comm.size, sampler=sampler,
                                    transform=prepare)
    else:
        loader = nn.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                    transform=prepare)
    log: dict[str, Any] = {"args": {**vars(args), "lr": lr}, "epochs": []}
    lead = comm.rank == 0  # only rank 0 prints, evaluates and writes files
    say = print if lead and not args.quiet else (lambda *a, **k: None)
    first = 1
    if args.resume:
        first, log = resume(args.resume, model, opt, sched, comm)
        say(f"resuming from {args.resume} after epoch {first - 1}")
    on = f" on {comm.size} workers" if comm.size > 1 else ""
    say(f"training {args.model} ({sum(p.size for p in model.parameters()):,} parameters) on "
        f"{len(split.y_train)} digits with {args.optimizer} lr={lr:g} for {args.epochs} "
        f"epochs{on}; testing on {len(split.y_test)}")

    def train_step(xb: Any, yb: Any) -> Any:
        loss = nn.functional.cross_entropy(net(xb), yb)
        opt.zero_grad()
        loss.backward()  # with DDP: gradients averaged over the ranks at the end
        opt.step()
        return loss

    # --compile: recorded on the first two batches of each shape, replayed after (the same
    # weights bit for bit, fewer Python objects per step).
    step = ag.compile(train_step) if args.compile else train_step
    start = time.perf_counter()
    for epoch in range(first, args.epochs + 1):
        t0 = time.perf_counter()
        if sampler is not None:
            sampler.set_epoch(epoch)
        for xb, yb in _progress(loader, len(loader), f"epoch {epoch}", lead and not args.quiet):
            step(xb, yb)
        if sched is not None:
            sched.step()
        # Every rank's generator goes into rank 0's checkpoint (a collective: all call it).
        generators = (comm.allgather_object(ag.default_generator().bit_generator.state)
                      if comm.size > 1 else None)
        if not lead:
            continue
        train_loss, train_acc = evaluate(model, x_train, split.y_train)
        test_loss, test_acc = evaluate(model, x_test, split.y_test)
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
               "test_loss": test_loss, "test_acc": test_acc,
               "seconds": time.perf_counter() - t0}
        log["epochs"].append(row)
        save_checkpoint(args.out, epoch, model, opt, sched, log, generators)
        say(f"epoch {epoch:3d}  train loss {train_loss:.4f} acc {train_acc:.2%}  "
            f"test loss {test_loss:.4f} acc {test_acc:.2%}  ({row['seconds']:.1f}s)")
    log["seconds"] = time.perf_counter() - start
    if not lead:
        return log
    log["test_acc"] = log["epochs"][-1]["test_acc"] if log["epochs"] else None
    write_outputs(args.out, model, log, x_train[:8], say)
    say(f"done in {log['seconds']:.1f}s: test accuracy {log['test_acc']:.2%}; "
        f"outputs in {args.out}/")
    return log


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w") -> Iterator[IO[Any]]:
    """A file that appears at ``path`` only once completely written: it is written beside
    it and renamed over it (atomic), so a killed run never leaves a truncated file."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, mode) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


CHECKPOINT = "checkpoint.pkl"


def save_checkpoint(out: str, epoch: int, model: Any, opt: Any, sched: Any,
                    log: dict[str, Any], generators: list[Any] | None = None) -> None:
    """Everything a resumed run needs after ``epoch``: weights, optimizer and scheduler
    state, the random generator's state (shuffling, crops, dropout) and the log so far;
    with ``--workers``, every rank's generator state (``generators``, in rank order).
    A pickle: load only checkpoints you wrote."""
    os.makedirs(out, exist_ok=True)
    state = {"epoch": epoch, "model": {k: v.data for k, v in model.state_dict().items()},
             "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict() if sched is not None else None,
             "generator": ag.default_generator().bit_generator.state, "log": log}
    if generators is not None:
        state["generators"] = generators
    with atomic_write(os.path.join(out, CHECKPOINT), "wb") as f:
        pickle.dump(state, f)


def resume(out: str, model: Any, opt: Any, sched: Any,
           comm: distributed.Communicator | None = None) -> tuple[int, dict[str, Any]]:
    """Load ``out``'s checkpoint into the model, optimizer, scheduler and generator; the
    first epoch still to run, and the log so far.  Every rank reads the same file and
    takes its own generator state; the number of workers must be the one it was saved by."""
    comm = comm if comm is not None else distributed.SingleProcessCommunicator()
    path = os.path.join(out, CHECKPOINT)
    if not os.path.exists(path):
        raise SystemExit(f"agc-train: no {CHECKPOINT} in {out} to resume from")
    with open(path, "rb") as f:
        state = pickle.load(f)
    generators = state.get("generators") or [state["generator"]]
    if len(generators) != comm.size:
        raise SystemExit(f"agc-train: {path} was written by a run with {len(generators)} "
                         f"worker(s); resume it with --workers {len(generators)}")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if sched is not None and state["scheduler"] is not None:
        sched.load_state_dict(state["scheduler"])
    ag.default_generator().bit_generator.state = generators[comm.rank]
    return state["epoch"] + 1, state["log"]


def write_outputs(out: str, model: Any, log: dict[str, Any], sample: np.ndarray,
                  say: Any) -> None:
    """weights.npz, log.json, curves.png (with matplotlib) and graph.svg (with Graphviz)."""
    os.makedirs(out, exist_ok=True)
    with atomic_write(os.path.join(out, "weights.npz"), "wb") as f:
        np.savez(f, **{k: v.data for k, v in model.state_dict().items()})
    with atomic_write(os.path.join(out, "log.json")) as f:
        json.dump(log, f, indent=2)
    try:
        plot_curves(log, os.path.join(out, "curves.png"))
    except ImportError:
        say("matplotlib is not installed: skipped curves.png (pip install matplotlib)")
    model.eval()
    logits = model(ag.Tensor(sample))
    model.train()
    dot = viz.to_dot(logits, module=model, collapse=1, show_grad=False)
    with open(os.path.join(out, "graph.dot"), "w") as f:
        f.write(dot)
    try:
        viz.render(logits, path=os.path.join(out, "graph.svg"), module=model,
                  collapse=1, show_grad=False)
    except viz.GraphvizNotFoundError as e:
        say(f"skipped graph.svg: {e}")


def plot_curves(log: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = log["epochs"]
    ep = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(ep, [r["train_loss"] for r in rows], label="train")
    a.plot(ep, [r["test_loss"] for r in rows], label="test")
    a.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    b.plot(ep, [r["train_acc"] for r in rows], label="train")
    b.plot(ep, [r["test_acc"] for r in rows], label="test")
    b.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="agc-train", description="Train on the bundled 8x8 digits (1,797 images).")
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--batchnorm", action="store_true", help="batch norm after each hidden layer")
    p.add_argument("--dropout", type=float, default=0.0, metavar="P",
                   help="dropout probability after each hidden layer (default 0: none)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default for the MLP: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())
                        + f"; {CNN_LR_FACTOR}x that for the CNN)")
    p.add_argument("--augment", action="store_true",
                   help="random 1-pixel shifts of the training images")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", choices=("cosine", "none"), default="cosine",
                   help="learning-rate schedule over the epochs (default cosine annealing)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output directory (default runs/<model>)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="data-parallel training in N processes: relaunches itself through "
                        "mpiexec -n N (needs mpiexec and mpi4py: pip install "
                        "'autograd_core[mpi]'); --batch-size stays the global batch, split "
                        "evenly between the workers")
    p.add_argument("--compile", action="store_true",
                   help="run the training step under ag.compile (the same weights, replayed "
                        "without per-op Python objects)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.add_argument("--resume", metavar="DIR", default=None,
                   help="continue an interrupted run from DIR's last finished epoch (its "
                        "checkpoint.pkl); pass the same options as the first run")
    args = p.parse_args(argv)
    if not 0 <= args.dropout < 1:
        p.error(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs and --batch-size must be positive")
    launched = distributed.launched_size()  # > 1 under mpiexec (our relaunch, or by hand)
    if args.workers is None:
        args.workers = launched
    if args.workers < 1:
        p.error(f"--workers must be positive, got {args.workers}")
    if launched > 1 and args.workers != launched:
        p.error(f"--workers {args.workers} under an mpiexec that started {launched} "
                f"processes; give the same number (or leave --workers out)")
    if args.batch_size % args.workers:
        p.error(f"--batch-size {args.batch_size} must be a multiple of --workers "
                f"{args.workers} (each worker takes an equal part of every batch)")
    if args.out is None:
        args.out = args.resume or os.path.join("runs", args.model)
    return args


def relaunch(workers: int, argv: Sequence[str]) -> int:
    """Run this job again as ``mpiexec -n workers python -m agc_train argv``; its exit code.

    Each process gets ``max(1, cores // workers)`` BLAS/OpenMP threads unless the
    environment sets them, so the workers do not oversubscribe the cores.  Open MPI's
    run-as-root and oversubscription guards are relaxed unless set (MPICH has none).
    """
    mpiexec = distributed.find_mpiexec()
    if mpiexec is None:
        raise SystemExit(f"agc-train: --workers {workers} needs mpiexec, and none is on PATH "
                         f"(pip install 'autograd_core[mpi]' installs mpi4py and MPICH)")
    env = dict(os.environ)
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    for var in ("OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM",
                "OMPI_MCA_rmaps_base_oversubscribe"):
        env.setdefault(var, "1")
    cmd = [mpiexec, "-n", str(workers), sys.executable, "-m", "agc_train", *argv]
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:  # mpiexec passes Ctrl-C on; rank 0 says what was kept
        return proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.workers > 1 and distributed.launched_size() == 1:
        return relaunch(args.workers, argv)
    try:
        train(args)
    except KeyboardInterrupt:  # Ctrl-C: one line (from rank 0), the finished epochs are kept
        if distributed.get_rank() == 0:
            print(f"agc-train: interrupted; finished epochs are saved in {args.out} "
                  f"(continue with --resume {args.out})", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
