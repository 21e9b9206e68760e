"""torch-named shape and scan ops beyond the op table's generic checks: conventions, errors."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import ops


def test_flip_is_a_copy_and_takes_dims_as_torch_does():
    x = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = x.flip(0, 1)
    assert y.tolist() == [[4.0, 3.0], [2.0, 1.0]]
    assert x.flip([1]).tolist() == ops.flip(x, 1).tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert not np.shares_memory(y.numpy(), x.numpy())


def test_roll_without_dims_rolls_the_flattened_tensor():
    x = ag.arange(6.0).reshape(2, 3)
    assert ops.roll(x, 1).tolist() == [[5.0, 0.0, 1.0], [2.0, 3.0, 4.0]]
    assert x.roll((1, -1), (0, 1)).tolist() == np.roll(x.numpy(), (1, -1), (0, 1)).tolist()


def test_cumsum_of_a_0d_tensor_and_its_gradient():
    x = ag.tensor(2.0, requires_grad=True)
    y = ops.cumsum(x, 0)
    assert y.shape == () and y.item() == 2.0
    y.backward()
    assert x.grad.item() == 1.0
    v = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v.cumsum(0).sum().backward()
    assert v.grad.tolist() == [3.0, 2.0, 1.0]


def test_var_mean_and_std_mean_return_both_over_the_same_axes():
    x = ag.tensor(np.arange(12.0).reshape(3, 4))
    v, m = ops.var_mean(x, dim=1, keepdim=True)
    assert v.shape == m.shape == (3, 1)
    np.testing.assert_allclose(v.numpy(), np.var(x.numpy(), 1, ddof=1, keepdims=True))
    s, m2 = ops.std_mean(x, 0, correction=0)
    np.testing.assert_allclose(s.numpy(), np.std(x.numpy(), 0))
    assert m2.tolist() == np.mean(x.numpy(), 0).tolist()


def test_errors_name_the_op_and_the_shape():
    with pytest.raises(IndexError, match=r"flip: dimension 2 is out of range .* \(2, 2\)"):
        ops.flip(ag.ones(2, 2), 2)
    with pytest.raises(IndexError, match="cumsum: dimension -3"):
        ops.cumsum(ag.ones(2, 2), -3)
    with pytest.raises(ValueError, match="roll: shifts .* must have one length"):
        ops.roll(ag.ones(2, 2), (1, 2), 0)
    with pytest.raises(ValueError, match=r"tril: needs .* at least 2 dimensions, got shape \(3,\)"):
        ops.tril(ag.ones(3))
