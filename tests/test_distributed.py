"""Data parallel (issue L): communicators, DistributedDataParallel, DistributedSampler, and
the same checks over MPI in two processes (``mpiexec -n 2``), plus ``agc-train --workers``."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import distributed
from autograd_core.distributed import SingleProcessCommunicator, find_mpiexec, init
from autograd_core.testing import check_grads
from nn.data import DataLoader, DistributedSampler, TensorDataset

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@pytest.fixture(autouse=True)
def _fresh_communicator(monkeypatch):
    """No test leaves its choice of communicator behind for the next."""
    monkeypatch.setattr(distributed, "_CURRENT", None)
    for var in distributed._LAUNCHER_SIZE_VARS:
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------- communicators
def test_the_single_process_communicator_is_the_identity_in_place():
    comm = SingleProcessCommunicator()
    buf = np.arange(6.0)
    assert comm.allreduce_mean_(buf) is buf and buf.tolist() == [0, 1, 2, 3, 4, 5]
    assert comm.broadcast_(buf, root=0) is buf and buf.tolist() == [0, 1, 2, 3, 4, 5]
    comm.barrier()
    assert (comm.rank, comm.size, comm.allgather_object({"a": 1})) == (0, 1, [{"a": 1}])


def test_collectives_refuse_what_they_cannot_reduce_in_place():
    comm = SingleProcessCommunicator()
    with pytest.raises(ValueError, match=r"allreduce_mean_: .*C-contiguous.*shape \(2, 2\)"):
        comm.allreduce_mean_(np.zeros((2, 4))[:, ::2])
    with pytest.raises(TypeError, match="allreduce_mean_: expected a numpy array, got list"):
        comm.allreduce_mean_([1.0, 2.0])
    with pytest.raises(ValueError, match=r"broadcast_: root 1 is out of range for 1 process"):
        comm.broadcast_(np.zeros(2), root=1)


def test_init_picks_one_process_unless_started_by_mpiexec(monkeypatch):
    assert isinstance(init(), SingleProcessCommunicator)
    assert distributed.get_communicator() is distributed.get_communicator()
    assert (distributed.get_rank(), distributed.get_world_size()) == (0, 1)
    with pytest.raises(ValueError, match="init: unknown backend 'nccl'"):
        init("nccl")
    monkeypatch.setenv("PMI_SIZE", "4")
    assert distributed.launched_size() == 4


def test_asking_for_mpi_without_mpi4py_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    with pytest.raises(ImportError, match=r"backend='mpi' asked for.*autograd_core\[mpi\]"):
        init("mpi")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")  # under mpiexec: never train alone
    with pytest.raises(ImportError, match="started by mpiexec as one of 2 processes"):
        init()


# ---------------------------------------------------------------- queue_callback
def test_a_queued_callback_runs_once_after_every_grad_is_accumulated():
    from autograd_core.engine import queue_callback

    w = ag.tensor([1.0, 2.0], requires_grad=True)
    b = ag.tensor([0.5], requires_grad=True)
    y = w * 3
    seen = []

    def callback():
        seen.append((w.grad.tolist(), b.grad.tolist()))

    y.register_hook(lambda g: queue_callback(callback))
    y.register_hook(lambda g: queue_callback(callback))  # the same callback: queued once
    (y.sum() + b.sum()).backward(retain_graph=True)
    assert seen == [([3.0, 3.0], [1.0])]
    ag.grad((y * y).sum(), w)  # grad() fills no .grad: it runs no callback
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="queue_callback: no backward pass is running"):
        queue_callback(callback)


# ---------------------------------------------------------------- DistributedDataParallel
class _SpyComm(SingleProcessCommunicator):
    """One process, recording each allreduce, or a fake second rank whose gradients are
    ``other`` (so the averaging can be checked without MPI)."""

    def __init__(self, other=None):
        super().__init__()
        self.calls, self.other = [], other
        if other is not None:
            self.size = 2

    def allreduce_mean_(self, buf):
        self.calls.append(buf.size)
        if self.other is not None:
            buf += self.other(buf)
            buf /= 2
        return buf


def _mlp():
    ag.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))


def test_ddp_averages_all_grads_in_one_flat_allreduce_at_the_end_of_backward():
    comm = _SpyComm()
    ddp = nn.DistributedDataParallel(_mlp(), comm)
    plain = _mlp()
    x = ag.randn(3, 4)
    out = ddp(x)
    (out.sum() + (out * out).sum()).backward()  # the output is reached twice: one sync
    (plain(x).sum() + (plain(x) ** 2).sum()).backward()
    n = sum(p.size for p in plain.parameters())
    assert comm.calls == [n + 4]  # every gradient, then one has-a-gradient flag each
    for p, q in zip(ddp.parameters(), plain.parameters(), strict=True):
        assert np.allclose(p.grad.data, q.grad.data, rtol=1e-6)
    with ddp.no_sync():
        ddp(x).sum().backward()
    assert len(comm.calls) == 1  # no averaging inside no_sync
    assert next(iter(ddp.state_dict())) == "module.0.weight"  # as torch


def test_ddp_takes_the_mean_and_zeros_for_a_rank_without_a_gradient():
    model = _mlp()
    n = sum(p.size for p in model.parameters())
    other = np.zeros(n + 4)
    other[:20] = 4.0  # the other rank: gradient 4 for the first weight (4 x 5), none else
    other[n] = 1.0
    ddp = nn.DistributedDataParallel(model, _SpyComm(lambda buf: other))
    model[0].weight.grad = ag.full((5, 4), 2.0)
    model[2].bias.grad = ag.full((2,), 6.0)
    ddp.sync_gradients()
    assert np.all(model[0].weight.grad.data == 3.0)  # (2 + 4) / 2
    assert np.all(model[2].bias.grad.data == 3.0)  # (6 + 0) / 2: missing counts as zero
    assert model[0].bias.grad is None  # no rank had one: stays None


def test_ddp_trains_like_the_module_in_one_process():
    plain, wrapped = _mlp(), _mlp()
    ddp = nn.DistributedDataParallel(wrapped)
    x, y = ag.randn(8, 4), ag.randn(8, 2)
    for net, params in ((plain, plain.parameters()), (ddp, ddp.parameters())):
        opt = optim.Adam(params, lr=0.01)
        for _ in range(3):
            loss = ((net(x) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for p, q in zip(wrapped.parameters(), plain.parameters(), strict=True):
        assert np.array_equal(p.data, q.data)
    with pytest.raises(TypeError, match="DistributedDataParallel: expected an nn.Module"):
        nn.DistributedDataParallel(lambda x: x)


# ---------------------------------------------------------------- DistributedSampler
def test_all_reduce_is_differentiable_and_the_identity_in_one_process():
    x = ag.tensor(np.array([0.5, -1.5]), requires_grad=True)
    y = distributed.all_reduce(x * x, SingleProcessCommunicator())
    assert y.tolist() == [0.25, 2.25] and y.op_name == "all_reduce"
    check_grads(lambda t: distributed.all_reduce(t.sin(), SingleProcessCommunicator()), x,
                order=2)
    with pytest.raises(ag.backends.BackendError, match="all_reduce: .* reduce numpy arrays"):
        distributed.all_reduce(ag.tensor([1.0], device=pytest.importorskip(
            "array_api_strict")), SingleProcessCommunicator())


@pytest.mark.parametrize("shape", [(6, 3), (6, 3, 4), (4, 3, 2, 5)])
def test_sync_batch_norm_in_one_process_is_batch_norm(shape):
    x = ag.tensor(np.random.default_rng(0).normal(size=shape), requires_grad=True)
    plain = (nn.BatchNorm1d if len(shape) < 4 else nn.BatchNorm2d)(3).double()
    sync = nn.SyncBatchNorm(3, process_group=SingleProcessCommunicator()).double()
    for bn in (plain, sync):
        bn.weight.data = np.array([1.5, -0.5, 2.0])
    outs = [bn(x) for bn in (plain, sync)]
    np.testing.assert_array_equal(outs[0].numpy(), outs[1].numpy())
    np.testing.assert_array_equal(plain.running_var.numpy(), sync.running_var.numpy())
    grads = [ag.grad((o * o).sum(), [x, bn.weight])
             for o, bn in zip(outs, (plain, sync), strict=True)]
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    sync.eval()
    np.testing.assert_array_equal(sync(x).numpy(), plain.eval()(x).numpy())
    check_grads(lambda t: nn.SyncBatchNorm(3, process_group=SingleProcessCommunicator(),
                                           dtype="float64")(t), x, order=2)


def test_convert_sync_batchnorm_takes_over_parameters_buffers_and_mode():
    inner = nn.BatchNorm1d(4)
    model = nn.Sequential(nn.Linear(3, 4), inner, nn.Sequential(nn.BatchNorm2d(2)))
    model.eval()
    weight, mean = inner.weight, inner.running_mean
    out = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert out is model and isinstance(model[1], nn.SyncBatchNorm)
    assert isinstance(model[2][0], nn.SyncBatchNorm) and not model[1].training
    assert model[1].weight is weight and model[1].running_mean is mean
    assert isinstance(nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(2)),
                      nn.SyncBatchNorm)


def test_sampler_follows_torch_padding_and_drop_last():
    shards = [list(DistributedSampler(range(10), 3, r, shuffle=False)) for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]  # padded with 0, 1
    shards = [list(DistributedSampler(range(10), 3, r, shuffle=False, drop_last=True))
              for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    tiny = [list(DistributedSampler(range(2), 5, r, shuffle=False)) for r in range(5)]
    assert tiny == [[0], [1], [0], [1], [0]]
    assert len(DistributedSampler(range(10), 3, 0)) == 4


@pytest.mark.parametrize("n, replicas", [(10, 2), (11, 3), (7, 4)])
def test_shuffled_shards_are_disjoint_and_cover_the_dataset(n, replicas):
    for drop_last in (False, True):
        samplers = [DistributedSampler(range(n), replicas, r, seed=3, drop_last=drop_last)
                    for r in range(replicas)]
        for epoch in (0, 1):
            for s in samplers:
                s.set_epoch(epoch)
            shards = [list(s) for s in samplers]
            assert len({len(s) for s in shards}) == 1  # every rank the same number of steps
            flat = [i for shard in shards for i in shard]
            if drop_last:
                assert len(set(flat)) == len(flat) == n - n % replicas
            else:
                assert set(flat) == set(range(n))
                assert len(flat) - n == (-n) % replicas  # only the padding repeats
        assert shards != [list(s) for s in (DistributedSampler(range(n), replicas, r,
                                                                seed=3, drop_last=drop_last)
                                            for r in range(replicas))]  # set_epoch reshuffles


def test_sampler_refuses_bad_ranks_and_sizes():
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval "
                                         r"\[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be at least 1, got 0"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    s = DistributedSampler(range(4))  # the communicator's: one process
    assert (s.num_replicas, s.rank) == (1, 0)


def test_dataloader_takes_a_sampler():
    ds = TensorDataset(np.arange(10.0)[:, None], np.arange(10))
    loader = DataLoader(ds, 2, sampler=DistributedSampler(ds, 2, 1, shuffle=False))
    assert [y.tolist() for _, y in loader] == [[1, 3], [5, 7], [9]] and len(loader) == 3
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, 2, shuffle=True, sampler=range(10))


# ---------------------------------------------------------------- over MPI, two processes
def _mpi_env():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for var in distributed._LAUNCHER_SIZE_VARS:  # we are not a rank ourselves
        env.pop(var, None)
    return env


def _unavailable(reason):
    # CI installs MPI (.ci/run) and must prove these run; elsewhere they skip, visibly.
    if os.environ.get("CI") == "true":
        pytest.fail(f"MPI tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def mpiexec():
    exe = find_mpiexec()
    if exe is None:
        _unavailable("no mpiexec (pip install 'autograd_core[mpi]')")
    if importlib.util.find_spec("mpi4py") is None:
        _unavailable("mpi4py is not installed (pip install 'autograd_core[mpi]')")
    probe = "from mpi4py import MPI; c = MPI.COMM_WORLD; c.Get_rank() or print(c.Get_size())"
    try:
        r = subprocess.run([exe, "-n", "2", sys.executable, "-c", probe], env=_mpi_env(),
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        _unavailable(f"{exe} -n 2 did not finish in 60 s")
    if r.returncode != 0 or r.stdout.strip() != "2":
        _unavailable(f"{exe} -n 2 could not start two MPI processes: rc {r.returncode}, "
                     f"stdout {r.stdout!r}, stderr {r.stderr[-500:]!r}")
    return exe


def test_two_processes_match_one_and_average_the_grads(mpiexec):
    """tests/mpi_checks.py on each rank: float64, 5 steps of SGD momentum and of Adam on
    half-batches give one process's parameters on the whole batch to 1e-12; each grad
    after the allreduce is the mean of the ranks' grads; missing grads, local buffers,
    mismatched models refused."""
    r = subprocess.run([mpiexec, "-n", "2", sys.executable, str(HERE / "mpi_checks.py")],
                       env=_mpi_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for check in ("same_parameters_as_one_process_on_the_whole_batch",
                  "a_compiled_step_replays_the_averaging",
                  "grad_is_the_mean_of_the_ranks_grads", "missing_gradients",
                  "buffers_are_broadcast_and_then_local", "mismatched_models_are_refused"):
        for rank in (0, 1):
            assert f"rank {rank}: check_{check} ok" in r.stdout, r.stdout + r.stderr


def test_agc_train_workers_2_trains_on_shards_and_rank_0_writes(mpiexec, tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "agc_train", "--workers", "2", "--epochs", "3",
                        "--out", str(out)], env=_mpi_env(), capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "on 2 workers" in r.stdout and r.stdout.count("epoch   3") == 1  # rank 0 only
    log = json.loads((out / "log.json").read_text())
    assert log["args"]["workers"] == 2 and log["test_acc"] > 0.9
    assert (out / "weights.npz").exists() and (out / "checkpoint.pkl").exists()


def test_agc_train_workers_needs_mpiexec(monkeypatch):
    from agc_train import train as job

    monkeypatch.setattr(job.distributed, "find_mpiexec", lambda: None)
    with pytest.raises(SystemExit, match="--workers 2 needs mpiexec, and none is on PATH"):
        job.main(["--workers", "2", "--epochs", "1"])
    with pytest.raises(SystemExit):
        job.parse_args(["--workers", "3"])  # 32 is not a multiple of 3


@pytest.mark.slow
def test_agc_train_workers_2_defaults_reach_the_stated_accuracy(mpiexec, tmp_path):
    r = subprocess.run([sys.executable, "-m", "agc_train", "--workers", "2", "--quiet",
                        "--out", str(tmp_path / "mlp")], env=_mpi_env(), capture_output=True,
                       text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((tmp_path / "mlp" / "log.json").read_text())["test_acc"] >= 0.97


def test_a_checkpoint_resumes_only_with_the_workers_that_wrote_it(tmp_path):
    from agc_train import train as job

    out = tmp_path / "run"
    assert job.main(["--epochs", "1", "--quiet", "--out", str(out)]) == 0
    model = job.build_model("mlp", False, 0.0)
    opt = job.build_optimizer("adam", model.parameters(), 1e-3, 0.0)
    two = SingleProcessCommunicator()
    two.size = 2
    with pytest.raises(SystemExit, match="written by a run with 1 worker.*--workers 1"):
        job.resume(str(out), model, opt, None, two)
    assert job.resume(str(out), model, opt, None)[0] == 2
