"""Module API: registration, traversal, modes, state dicts, repr, containers, scopes."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.engine import STATE


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.register_buffer("calls", ag.Tensor(np.zeros(1)))
        self.register_buffer("scratch", ag.Tensor(np.zeros(2)), persistent=False)

    def forward(self, x):
        return F.relu(self.fc(x))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Block(), Block()])
        self.bn = nn.BatchNorm1d(3)
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.head(self.bn(x))


def test_registration_order_names_and_kinds():
    m = MLP()
    assert [n for n, _ in m.named_parameters()] == [
        "layers.0.fc.weight", "layers.0.fc.bias", "layers.1.fc.weight", "layers.1.fc.bias",
        "bn.weight", "bn.bias", "head.weight", "head.bias"]
    assert [n for n, _ in m.named_buffers()] == [
        "layers.0.calls", "layers.0.scratch", "layers.1.calls", "layers.1.scratch",
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in m.named_modules()] == [
        "", "layers", "layers.0", "layers.0.fc", "layers.1", "layers.1.fc", "bn", "head"]
    assert [type(c).__name__ for c in m.children()] == ["ModuleList", "BatchNorm1d", "Linear"]
    assert all(isinstance(p, nn.Parameter) for p in m.parameters())
    assert not any(b is p for b in m.buffers() for p in m.parameters())


def test_shared_parameters_and_modules_are_listed_once():
    fc = nn.Linear(2, 2)
    seq = nn.Sequential(fc, nn.ReLU(), fc)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]


def test_reassignment_moves_an_attribute_between_kinds():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        m.weight = ag.zeros(2, 2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.extra = nn.Parameter(ag.zeros(1))
    m.extra = nn.ReLU()  # now a child module, no longer a parameter
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert [n for n, _ in m.named_children()] == ["extra"]
    del m.weight
    assert list(m.parameters()) == []
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = m.nothing


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ag.zeros(1))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_trap10_parameter_always_requires_grad_and_is_float():
    """TRAPS 10 (tinygrad PR#386): a parameter that silently never trains."""
    assert nn.Parameter(ag.tensor([1.0])).requires_grad  # from a tensor without grad
    assert nn.Parameter(np.zeros(3)).requires_grad and nn.Parameter([1.0, 2]).dtype == np.float32
    for ints in (np.arange(3), [1, 2]):  # Python ints are int64, as in torch: no parameter
        with pytest.raises(TypeError, match="floating"):
            nn.Parameter(ints)
    p = nn.Parameter(np.ones(2))
    assert p.is_leaf and "Parameter containing" in repr(p)
    assert type(p * 2) is ag.Tensor  # results of ops are plain tensors


def test_trap10_unused_parameters_lists_frozen_and_disconnected_ones():
    m = MLP()
    m.layers[1].fc.weight.requires_grad_(False)  # frozen by mistake
    m.spare = nn.Linear(3, 3)  # never used in forward
    m.zero_grad()
    m(ag.randn(4, 3)).sum().backward()
    assert nn.utils.unused_parameters(m) == ["layers.1.fc.weight", "spare.weight", "spare.bias"]


def test_train_eval_and_zero_grad():
    m = MLP()
    assert m.training and m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m(ag.randn(4, 3)).sum().backward()
    shared = m.head.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.head.weight.grad is not shared and not m.head.weight.grad.data.any()
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_state_dict_round_trip_through_savez_gives_identical_outputs(tmp_path):
    m = MLP()
    x = ag.randn(8, 3)
    m(x)  # updates running statistics
    m.eval()
    expected = m(x).data
    path = tmp_path / "weights.npz"
    np.savez(path, **m.state_dict())
    ag.manual_seed(123)
    fresh = MLP().eval()
    assert not np.array_equal(fresh(x).data, expected)
    with np.load(path) as saved:
        assert fresh.load_state_dict(saved) == ([], [])
    np.testing.assert_array_equal(fresh(x).data, expected)
    assert fresh.bn.num_batches_tracked.dtype == np.int64
    assert "layers.0.scratch" not in m.state_dict()  # non-persistent buffer


def test_state_dict_values_are_copies():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    m.weight.data[...] = 7.0  # as an in-place optimizer step would
    assert not np.any(sd["weight"].data == 7.0)


def test_load_state_dict_lists_every_problem_and_loads_nothing():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    before = m[0].weight.data.copy()
    bad = dict(m.state_dict())
    del bad["1.running_var"]
    bad["0.weight"] = np.zeros((2, 3))
    bad["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(bad)
    msg = str(err.value)
    assert 'Missing key(s) in state_dict: "1.running_var"' in msg
    assert 'Unexpected key(s) in state_dict: "extra"' in msg
    assert "size mismatch for 0.weight" in msg and "(2, 3)" in msg and "(3, 2)" in msg
    np.testing.assert_array_equal(m[0].weight.data, before)
    bad["0.weight"] = np.ones((3, 2), dtype=np.float64)
    result = m.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == ["extra"]
    assert m[0].weight.dtype == np.float32 and np.all(m[0].weight.data == 1)


def test_repr_is_pytorch_like():
    assert repr(MLP()) == (
        "MLP(\n"
        "  (layers): ModuleList(\n"
        "    (0): Block(\n"
        "      (fc): Linear(in_features=3, out_features=3, bias=True)\n"
        "    )\n"
        "    (1): Block(\n"
        "      (fc): Linear(in_features=3, out_features=3, bias=True)\n"
        "    )\n"
        "  )\n"
        "  (bn): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (head): Linear(in_features=3, out_features=2, bias=True)\n"
        ")")


def test_sequential_module_list_identity():
    named = nn.Sequential(OrderedDict(first=nn.Linear(2, 3), act=nn.Tanh()))
    assert [n for n, _ in named.named_children()] == ["first", "act"]
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x = ag.randn(4, 2)
    np.testing.assert_array_equal(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2 and seq[-1] is seq[2]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers.append(nn.ReLU()).extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "ReLU", "Tanh"]
    assert len(list(layers.parameters())) == 2
    assert nn.Identity(5, key=1)(x) is x


def test_to_dtype_apply_and_requires_grad():
    m = MLP().double()
    assert {p.dtype for p in m.parameters()} == {np.dtype(np.float64)}
    assert m.bn.running_mean.dtype == np.float64 and m.bn.num_batches_tracked.dtype == np.int64
    assert m(ag.Tensor(np.ones((2, 3)))).dtype == np.float64
    visited = []
    m.apply(lambda mod: visited.append(type(mod).__name__))
    assert visited == ["Linear", "Block", "Linear", "Block", "ModuleList", "BatchNorm1d",
                       "Linear", "MLP"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_deepcopy_and_pickle_keep_structure_and_scopes():
    m = MLP()
    x = ag.randn(2, 3)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        np.testing.assert_array_equal(clone(x).data, m(x).data)
        assert clone.layers[0].fc.weight is not m.layers[0].fc.weight
        assert clone.layers[1].fc(x).grad_fn._meta["scope"] == ("MLP", "layers", "1", "fc")


def scopes(out):
    """Scope of every recorded node reachable from ``out`` (iteratively)."""
    found, stack, seen = set(), [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if id(node) in seen or node._op is None:
            continue
        seen.add(id(node))
        found.add(node._meta["scope"] if node._meta else ())
        stack.extend(node._parents)
    return found


def test_forward_records_module_scope_on_every_node():
    m = MLP()
    out = m(ag.randn(4, 3))
    assert scopes(out) == {
        ("MLP", "layers", "0", "fc"), ("MLP", "layers", "0"), ("MLP", "layers", "1", "fc"),
        ("MLP", "layers", "1"), ("MLP", "bn"), ("MLP", "head")}
    assert STATE.scope == ()
    # Called directly, a sub-module still reports its full path.
    assert scopes(m.layers[0].fc(ag.randn(1, 3))) == {("MLP", "layers", "0", "fc")}
    # A slice of a container, or a second owner, does not take a module's path away.
    tail = m.layers[1:]
    other = nn.Sequential(m.head)
    assert scopes(other(tail[0](ag.randn(1, 3)))) == {
        ("MLP", "layers", "1", "fc"), ("MLP", "layers", "1"), ("Sequential", "MLP", "head")}
    del m.head  # no stale path through the module that let it go
    assert scopes(other(ag.randn(1, 3))) == {("Sequential", "Linear")}
    # An unregistered module used inside a forward nests under the running scope.
    seq = nn.Sequential(nn.Linear(3, 3))
    seq.forward = lambda x: nn.Tanh()(seq[0](x))
    assert scopes(seq(ag.randn(1, 3))) == {("Sequential", "0"), ("Sequential", "Tanh")}


def test_scope_is_restored_when_forward_raises():
    with pytest.raises(ValueError):
        nn.Linear(3, 2)(ag.zeros(4, 5))
    assert STATE.scope == ()
