"""Run by tests/test_distributed.py under ``mpiexec -n 2``: the checks every rank makes."""

import sys

import numpy as np

import autograd_core as ag
import nn
import optim
from autograd_core.distributed import MPICommunicator, init


def model(seed):
    ag.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def train(net, opt, x, y, steps=5):
    for _ in range(steps):
        loss = ((net(ag.tensor(x)) - ag.tensor(y)) ** 2).mean()
        opt.zero_grad()
        loss.backward()  # DDP averages here, at the end of backward
        opt.step()


def check_same_parameters_as_one_process_on_the_whole_batch(comm):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5)), rng.normal(size=(8, 3))
    half = slice(4 * comm.rank, 4 * comm.rank + 4)
    for make_opt in (lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                     lambda p: optim.Adam(p, lr=0.05)):
        reference = model(seed=100)  # rank 0's initial weights: what DDP broadcasts
        train(reference, make_opt(reference.parameters()), x, y)
        ddp = nn.DistributedDataParallel(model(seed=100 + comm.rank), comm)  # other inits
        train(ddp, make_opt(ddp.parameters()), x[half], y[half])
        for (name, p), q in zip(ddp.module.named_parameters(), reference.parameters(),
                                strict=True):
            err = np.max(np.abs(p.data - q.data))
            assert err <= 1e-12, f"rank {comm.rank}: {name} differs by {err:.3g}"
        # and the replicas are bit-identical
        mine = np.concatenate([p.data.ravel() for p in ddp.parameters()])
        assert all(np.array_equal(mine, other) for other in comm.allgather_object(mine))


def check_a_compiled_step_replays_the_averaging(comm):
    """Under ag.compile the gradient averaging is a call of the plan: the same parameters
    bit for bit as the eager DDP step."""
    rng = np.random.default_rng(3 + comm.rank)
    batches = [(rng.normal(size=(4, 5)), rng.normal(size=(4, 3))) for _ in range(5)]
    results = []
    for compiled in (False, True):
        ddp = nn.DistributedDataParallel(model(seed=7), comm)
        opt = optim.Adam(ddp.parameters(), lr=0.05)

        def step(x, y, ddp=ddp, opt=opt):
            opt.zero_grad()
            loss = ((ddp(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        run = ag.compile(step) if compiled else step
        for x, y in batches:
            run(ag.tensor(x), ag.tensor(y))
        results.append(np.concatenate([p.data.ravel() for p in ddp.parameters()]))
    assert np.array_equal(results[0], results[1]), f"rank {comm.rank}"


def check_grad_is_the_mean_of_the_ranks_grads(comm):
    ddp = nn.DistributedDataParallel(model(seed=1), comm)
    x = np.random.default_rng(10 + comm.rank).normal(size=(6, 5))  # different data per rank
    with ddp.no_sync():
        ddp(ag.tensor(x)).sum().backward()
    local = [p.grad.data.copy() for p in ddp.parameters()]
    everyone = comm.allgather_object(local)
    assert not np.array_equal(everyone[0][0], everyone[1][0])  # a real test: they differ
    ddp.sync_gradients()
    for k, p in enumerate(ddp.parameters()):
        mean = np.mean([grads[k] for grads in everyone], axis=0)
        assert np.allclose(p.grad.data, mean, rtol=0, atol=1e-15), f"parameter {k}"
    # ChainerMN's check: rank r's gradient is r + 1 everywhere; the mean is (1 + size) / 2
    for p in ddp.parameters():
        p.grad = ag.full(p.shape, float(comm.rank + 1), dtype=np.float64)
    ddp.sync_gradients()
    assert all(np.all(p.grad.data == (1 + comm.size) / 2) for p in ddp.parameters())


def check_missing_gradients(comm):
    net = model(seed=2)
    ddp = nn.DistributedDataParallel(net, comm)
    net[0].weight.grad = ag.full(net[0].weight.shape, 2.0, dtype=np.float64) \
        if comm.rank == 0 else None  # only rank 0 has one: it counts as zeros elsewhere
    ddp.sync_gradients()
    assert np.all(net[0].weight.grad.data == 2.0 / comm.size)
    assert net[0].bias.grad is None and net[2].weight.grad is None  # no rank had one


def check_buffers_are_broadcast_and_then_local(comm):
    ag.manual_seed(comm.rank)
    bn = nn.BatchNorm1d(3).double()
    bn.running_mean.data[:] = comm.rank + 5.0
    ddp = nn.DistributedDataParallel(bn, comm)
    assert np.all(bn.running_mean.data == 5.0)
    ddp(ag.tensor(np.full((4, 3), float(comm.rank)) + np.arange(4.0)[:, None]))
    means = comm.allgather_object(bn.running_mean.data.copy())
    assert not np.array_equal(means[0], means[1])  # statistics stay local


def check_sync_batch_norm_trains_like_one_process_on_the_whole_batch(comm):
    """SyncBatchNorm under DDP on half-batches = BatchNorm in one process on the whole
    batch: parameters and running statistics after 5 steps, float64.  Plain BatchNorm
    under DDP (local statistics) must not match, or the check could not fail."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 5)), rng.normal(size=(8, 3))
    half = slice(4 * comm.rank, 4 * comm.rank + 4)

    def net(norm):
        ag.manual_seed(11)
        return nn.Sequential(nn.Linear(5, 7), norm(7), nn.Tanh(), nn.Linear(7, 3)).double()

    reference = net(nn.BatchNorm1d)
    train(reference, optim.SGD(reference.parameters(), lr=0.1, momentum=0.9), x, y)
    results = {}
    for name, norm in (("sync", lambda n: nn.SyncBatchNorm(n, process_group=comm)),
                       ("local", nn.BatchNorm1d)):
        ddp = nn.DistributedDataParallel(net(norm), comm)
        train(ddp, optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9), x[half], y[half])
        results[name] = max(np.max(np.abs(p.data - q.data)) for p, q in zip(
            (*ddp.module.parameters(), *ddp.module.buffers()),
            (*reference.parameters(), *reference.buffers()), strict=True))
    assert results["sync"] <= 1e-12, f"rank {comm.rank}: differs by {results['sync']:.3g}"
    assert results["local"] > 1e-6, f"rank {comm.rank}: local statistics matched too"


def check_mismatched_models_are_refused(comm):
    width = 7 if comm.rank == 0 else 8
    try:
        nn.DistributedDataParallel(nn.Linear(5, width), comm)
    except ValueError as e:
        assert "rank 1's 'weight' has shape (8, 5) (float32), rank 0's 'weight' (7, 5)" \
            in str(e), str(e)
    else:
        raise AssertionError("mismatched models were accepted")


def main():
    comm = init()
    assert isinstance(comm, MPICommunicator) and comm.size == 2, comm
    for check in (check_same_parameters_as_one_process_on_the_whole_batch,
                  check_a_compiled_step_replays_the_averaging,
                  check_grad_is_the_mean_of_the_ranks_grads, check_missing_gradients,
                  check_buffers_are_broadcast_and_then_local,
                  check_sync_batch_norm_trains_like_one_process_on_the_whole_batch,
                  check_mismatched_models_are_refused):
        check(comm)
        comm.barrier()
        print(f"rank {comm.rank}: {check.__name__} ok", flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
