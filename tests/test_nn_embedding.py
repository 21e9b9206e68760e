"""Embedding and one_hot against PyTorch: lookups, accumulated and masked gradients, errors."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.testing import check_grads

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("idx_shape", [(), (7,), (3, 4)])
def test_embedding_matches_torch(idx_shape, padding_idx, scale_grad_by_freq):
    w_np = RNG.standard_normal((6, 3))
    idx = RNG.integers(0, 6, idx_shape)
    if idx.ndim:
        idx.flat[:3] = [2, 5, 2][: idx.size]  # repeats and the padding rows
    w, tw = ag.Tensor(w_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    out = F.embedding(idx, w, padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    tout = TF.embedding(torch.tensor(idx), tw, padding_idx,
                        scale_grad_by_freq=scale_grad_by_freq)
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    cot = RNG.standard_normal(out.shape)
    (out * cot).sum().backward()
    (tout * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_embedding_max_norm_renormalises_looked_up_rows_in_place_as_torch():
    w_np = RNG.standard_normal((5, 4)) * 3
    idx = np.array([[0, 1], [1, 3]])
    ours, theirs = ag.Tensor(w_np.copy()), torch.tensor(w_np.copy())
    out = F.embedding(idx, ours, max_norm=1.0)
    tout = TF.embedding(torch.tensor(idx), theirs, max_norm=1.0)
    np.testing.assert_allclose(out.data, tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours.data[[2, 4]], w_np[[2, 4]])  # not looked up


def test_embedding_module_init_padding_and_from_pretrained():
    emb = nn.Embedding(1000, 8, padding_idx=-1)
    assert emb.padding_idx == 999 and emb.weight.shape == (1000, 8)
    np.testing.assert_array_equal(emb.weight.data[999], 0.0)
    assert abs(emb.weight.data[:999].std() - 1.0) < 0.05  # N(0, 1), as torch
    assert repr(emb) == "Embedding(1000, 8, padding_idx=999)"
    idx = np.array([[1, 999], [999, 3]])
    emb(idx).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data[999], 0.0)
    np.testing.assert_array_equal(emb.weight.grad.data[1], 1.0)
    table = RNG.standard_normal((4, 2))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(np.array([3, 0])).data, table[[3, 0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_second_order():
    """Plain lookups only: padding_idx and scale_grad_by_freq change the gradient on
    purpose, so finite differences of the forward cannot check them (torch does above)."""
    w = ag.Tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    idx = np.array([[0, 4, 4], [1, 0, 2]])
    check_grads(lambda t: F.embedding(idx, t) ** 2, w, order=2)


def test_embedding_errors():
    w = ag.zeros(5, 2)
    with pytest.raises(IndexError, match=r"embedding: index 5 out of range for weight of "
                                         r"shape \(5, 2\)"):
        F.embedding(np.array([0, 5]), w)
    with pytest.raises(IndexError, match="index -1 out of range"):
        F.embedding(np.array([-1]), w)
    with pytest.raises(RuntimeError, match="embedding: indices must be integers, got dtype "
                                           "float32"):
        F.embedding(ag.tensor([1.0]), w)
    with pytest.raises(RuntimeError, match=r"weight must be 2-D"):
        F.embedding(np.array([0]), ag.zeros(5))
    with pytest.raises(ValueError, match=r"padding_idx must be within num_embeddings \(5\)"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(5, 2, sparse=True)
    with pytest.raises(IndexError):
        TF.embedding(torch.tensor([5]), torch.zeros(5, 2))


@pytest.mark.parametrize("num_classes", [-1, 7])
@pytest.mark.parametrize("data", [[1, 2, 4], [[[1, 2, 3], [0, 3, 5]], [[1, 2, 3], [0, 3, 5]]],
                                  [3]])
def test_one_hot_matches_torch(data, num_classes):
    ours = F.one_hot(ag.tensor(data), num_classes)
    theirs = TF.one_hot(torch.tensor(data), num_classes)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert not ours.requires_grad


def test_one_hot_errors_are_torchs():
    for bad, match in ((ag.tensor([1.0]), "indices must be integers"),
                       (np.array([-1, 0]), "non-negative"),
                       (np.array([3]), r"smaller than num_classes \(3\)"),
                       (np.array([], np.int64), "cannot infer the number of classes")):
        with pytest.raises(RuntimeError, match="one_hot: .*" + match):
            F.one_hot(bad, 3 if match.startswith("smaller") else -1)
    assert F.one_hot(np.array([], np.int64), 4).shape == (0, 4)
