"""In-place operations and version counters (issue G, TRAPS 9)."""

import re

import numpy as np
import pytest

import autograd_core as ag


def test_inplace_ops_without_graph_modify_the_array():
    a = ag.zeros(3)
    data = a.data
    a += 1
    a *= 3
    a -= ag.tensor([1.0, 0.0, 0.0])
    a /= 2
    a[1] = 7
    a.add_(1, alpha=2).mul_(1)
    assert a.data is data
    assert a.tolist() == [3.0, 9.0, 3.5]
    a.zero_()
    assert a.tolist() == [0.0, 0.0, 0.0]
    a.fill_(2.5)
    assert a.tolist() == [2.5, 2.5, 2.5]


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    for name, op in [("+=", lambda: w.__iadd__(1)), ("add_", lambda: w.add_(1)),
                     ("mul_", lambda: w.mul_(2)), ("__setitem__", lambda: w.__setitem__(0, 1)),
                     ("zero_", w.zero_), ("fill_", lambda: w.fill_(1))]:
        with pytest.raises(RuntimeError, match=re.escape(name) + ": .*leaf that requires grad"):
            op()
    assert w.tolist() == [1.0, 2.0]  # nothing was written
    with ag.no_grad():
        w -= 0.5
        w.zero_()
    assert w.tolist() == [0.0, 0.0] and w.requires_grad


def test_modifying_a_saved_value_raises_naming_op_and_tensor():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    h.name = "h"
    y = h.exp()  # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"saved by op 'exp'.*modified by an in-place"):
        y.sum().backward()
    x2 = ag.tensor([1.0, 2.0], requires_grad=True)
    h2 = x2 * 1
    h2.name = "h2"
    z = h2 ** 2  # pow reads its base
    h2.mul_(3)
    with pytest.raises(RuntimeError, match=r"saved by op 'pow' \(tensor 'h2'"):
        z.sum().backward()


def test_inplace_on_non_leaf_rebases_gradients_correctly():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    before = h * 3      # uses h before the in-place write
    h.mul_(5)           # h = 10x now
    h += x              # h = 11x
    after = h * 1
    (before.sum() + after.sum()).backward()
    np.testing.assert_allclose(x.grad.data, [6.0 + 11.0, 6.0 + 11.0])


def test_setitem_gradients():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = ag.tensor(4.0, requires_grad=True)
    h = x * 1
    h[1] = v * 2
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 6.0])
    np.testing.assert_allclose(v.grad.data, 2 * 2 * 8.0)


def test_inplace_through_view_of_graph_tensor_raises():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    with pytest.raises(RuntimeError, match="is a view .* in-place writes through views"):
        h[0:1].add_(1)


def test_view_shares_version_with_base():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h ** 2  # pow reads its base h
    with ag.no_grad():
        h.reshape(2, 1).mul_(2)  # a write through a view bumps the base's version
    with pytest.raises(RuntimeError, match="saved by op 'pow'"):
        y.sum().backward()


def test_broadcast_view_is_read_only():
    e = ag.ones(1).expand(3)
    with pytest.raises(RuntimeError, match="read-only broadcast view"):
        e += 1


def test_optimizer_style_update_under_no_grad_then_fresh_graph_is_fine():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with ag.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    np.testing.assert_allclose(w.data, np.array([1.0, 2.0]) * 0.8 ** 3, rtol=1e-6)


def test_stale_graph_after_parameter_update_raises():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with ag.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="saved by op 'mul'"):
        loss.backward()
