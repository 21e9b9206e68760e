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


def test_predicates_are_boolean_tensors_without_gradient():
    x = ag.tensor([1.0, np.nan, np.inf, -np.inf, 0.0], requires_grad=True)
    assert x.isnan().tolist() == [False, True, False, False, False]
    assert x.isinf().tolist() == [False, False, True, True, False]
    assert ops.isfinite(x).tolist() == [True, False, False, False, True]
    assert x.isnan().dtype == np.bool_ and not x.isnan().requires_grad
    a, b = ag.tensor([1.0, 0.0, 2.0]), ag.tensor([0.0, 0.0, 3.0])
    assert ops.logical_and(a, b).tolist() == [False, False, True]
    assert a.logical_or(b).tolist() == [True, False, True]
    assert a.logical_xor(b).tolist() == [True, False, False]
    assert a.logical_not().tolist() == [False, True, False]


def test_isclose_and_allclose_follow_torch():
    a, b = ag.tensor([1.0, 2.0, np.nan]), ag.tensor([1.0 + 1e-6, 2.1, np.nan])
    assert a.isclose(b).tolist() == [True, False, False]
    assert ops.isclose(a, b, equal_nan=True).tolist() == [True, False, True]
    assert ops.allclose(a[:1], b[:1]) is True and a.allclose(b) is False


def test_logaddexp_does_not_overflow_and_lerp_differentiates_its_weight():
    a = ag.tensor([1000.0, -1000.0, 0.0], dtype=np.float64, requires_grad=True)
    b = ag.tensor([1000.0, 0.0, 0.0], dtype=np.float64, requires_grad=True)
    y = ops.logaddexp(a, b)
    np.testing.assert_allclose(y.numpy(), np.logaddexp(a.numpy(), b.numpy()))
    y.sum().backward()
    assert a.grad.tolist() == [0.5, 0.0, 0.5] and b.grad.tolist() == [0.5, 1.0, 0.5]
    w = ag.tensor(0.25, dtype=np.float64, requires_grad=True)
    s, e = ag.tensor([0.0, 2.0], dtype=np.float64), ag.tensor([4.0, 2.0], dtype=np.float64)
    out = s.lerp(e, w)
    assert out.tolist() == [1.0, 2.0]
    out.sum().backward()
    assert w.grad.item() == 4.0


def test_any_and_all_return_boolean_tensors_over_dims_as_torch():
    x = ag.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert x.any().tolist() is True and x.all().tolist() is False
    assert x.any(dim=1).tolist() == [True, False]
    assert ops.all(x, 0, keepdim=True).shape == (1, 2)
    assert bool(x.any()) and not x.all()  # a one-element Tensor still has a truth value


def test_repeat_tiles_as_torch_and_its_gradient_counts_the_copies():
    x = ag.tensor([[1.0, 2.0]], requires_grad=True)
    y = x.repeat(2, 1, 3)
    assert y.shape == (2, 1, 6) and y.tolist()[1] == [[1.0, 2.0] * 3]
    y.sum().backward()
    assert x.grad.tolist() == [[6.0, 6.0]]
    assert ops.repeat_interleave(ag.tensor([[1.0, 2.0], [3.0, 4.0]]), 2).tolist() == [
        1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]
    with pytest.raises(ValueError, match=r"repeat: 1 repeats for a tensor of 2 dimensions"):
        x.repeat(2)


def test_diag_diagonal_unflatten_meshgrid_as_torch():
    v = ag.tensor([1.0, 2.0])
    assert ops.diag(v, -1).tolist() == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    m = ag.arange(12.0).reshape(3, 4)
    assert m.diagonal(1).tolist() == [1.0, 6.0, 11.0] and m.diag().tolist() == [0.0, 5.0, 10.0]
    assert m.unflatten(1, (2, 2)).shape == (3, 2, 2)
    gx, gy = ops.meshgrid(ag.arange(3.0), ag.arange(2.0), indexing="xy")
    assert gx.shape == gy.shape == (2, 3) and gx.tolist()[1] == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="diagonal: dim1 and dim2 must differ"):
        m.diagonal(0, 1, -1)
    with pytest.raises(ValueError, match="meshgrid: indexing must be"):
        ops.meshgrid(v, v, indexing="yx")


def test_prod_gradient_is_exact_at_zeros_to_second_order():
    # one zero: only it gets a gradient, the product of the rest; two zeros: no gradient,
    # but the mixed second derivative between them is the product of the rest
    x = ag.tensor([2.0, 0.0, 3.0], requires_grad=True)
    (g,) = ag.grad(ops.prod(x), [x], create_graph=True)
    assert g.tolist() == [0.0, 6.0, 0.0]
    y = ag.tensor([[2.0, 0.0, 0.0, 5.0]], requires_grad=True)
    (g,) = ag.grad(y.prod(1).sum(), [y], create_graph=True)
    assert g.tolist() == [[0.0, 0.0, 0.0, 0.0]]
    (h,) = ag.grad(g[0, 1], [y])
    assert h.tolist() == [[0.0, 0.0, 10.0, 0.0]]
    z = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert ops.prod(z, 1, keepdim=True).tolist() == [[2.0], [12.0]]
    assert z.prod(dtype=np.float32).dtype == np.float32


def test_sum_with_dtype_casts_first():
    x = ag.tensor([1, 2, 3])
    assert x.sum(dtype=np.float64).dtype == np.float64
    assert ops.sum(ag.tensor([0.5, 0.25], dtype=np.float32), dtype=np.float64).item() == 0.75


def test_cumulative_extremes_give_ties_to_the_later_index_as_torch():
    x = ag.tensor([[1.0, 1.0, 2.0, 2.0, 1.0], [3.0, 1.0, 3.0, 0.0, 5.0]], requires_grad=True)
    values, indices = ops.cummax(x, 1)
    assert indices.tolist() == [[0, 1, 2, 3, 3], [0, 0, 2, 2, 4]]
    assert indices.dtype == np.int64
    assert values.tolist() == [[1.0, 1.0, 2.0, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0, 5.0]]
    values.sum().backward()  # each output's gradient goes to where it was found
    assert x.grad.tolist() == [[1.0, 1.0, 1.0, 2.0, 0.0], [2.0, 0.0, 2.0, 0.0, 1.0]]
    assert x.cummin(1).indices.tolist() == [[0, 1, 1, 1, 4], [0, 1, 1, 3, 3]]


def test_logcumsumexp_is_finite_where_exp_overflows():
    x = ag.tensor([1000.0, 1000.0, -1000.0])
    np.testing.assert_allclose(ops.logcumsumexp(x, 0).numpy(),
                               [1000.0, 1000.0 + np.log(2.0), 1000.0 + np.log(2.0)])
    assert ops.cumprod(ag.tensor([2.0, 0.0, 3.0]), 0).tolist() == [2.0, 0.0, 0.0]


def test_sort_is_stable_both_ways_and_topk_returns_values_and_indices():
    x = ag.tensor([3.0, 1.0, 3.0, 2.0], requires_grad=True)
    assert x.sort().indices.tolist() == [1, 3, 0, 2]
    values, indices = ops.sort(x, descending=True)
    assert values.tolist() == [3.0, 3.0, 2.0, 1.0] and indices.tolist() == [0, 2, 3, 1]
    assert x.argsort(descending=True).tolist() == [0, 2, 3, 1]
    top = x.topk(2, largest=False)
    assert top.values.tolist() == [1.0, 2.0] and top.indices.tolist() == [1, 3]
    top.values.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match=r"topk: k=5 is out of range .* size 4"):
        x.topk(5)
    u = ag.tensor(np.array([2, 0, 1], dtype=np.uint8))
    assert u.sort(descending=True).values.tolist() == [2, 1, 0]


def test_gather_and_scatter_follow_torch_and_name_bad_indices():
    x = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    index = ag.tensor([[0, 0], [1, 0]])
    y = x.gather(1, index)
    assert y.tolist() == [[1.0, 1.0], [4.0, 3.0]]
    y.sum().backward()  # a repeated index accumulates
    assert x.grad.tolist() == [[2.0, 0.0], [1.0, 1.0]]
    z = ops.zeros(2, 3)
    src = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert z.scatter(1, ag.tensor([[2, 0], [1, 2]]), src).tolist() == [[2.0, 0.0, 1.0],
                                                                        [0.0, 3.0, 4.0]]
    assert z.scatter(1, ag.tensor([[2], [0]]), value=7.0).tolist() == [[0.0, 0.0, 7.0],
                                                                        [7.0, 0.0, 0.0]]
    assert z.scatter_add(1, ag.tensor([[1, 1]]), src).tolist() == [[0.0, 3.0, 0.0],
                                                                    [0.0, 0.0, 0.0]]
    assert z.scatter(1, ag.tensor([[1, 1]]), src, reduce="add").tolist() == [[0.0, 3.0, 0.0],
                                                                              [0.0, 0.0, 0.0]]
    with pytest.raises(RuntimeError, match=r"gather: index out of range \[0, 2\) for dim 1"):
        x.gather(1, ag.tensor([[2]]))
    with pytest.raises(RuntimeError, match="gather: index out of range"):
        x.gather(1, ag.tensor([[-1]]))  # torch does not wrap negative indices either
    with pytest.raises(TypeError, match="gather: index must be an integer tensor"):
        x.gather(1, ag.tensor([[0.0]]))
    with pytest.raises(ValueError, match=r"gather: index of shape \(3, 1\) is larger"):
        x.gather(1, ag.tensor([[0], [0], [0]]))
    with pytest.raises(ValueError, match="scatter_reduce: reduce must be"):
        z.scatter_reduce(1, index, src, "max")


def test_scatter_reduce_means_and_extremes_as_torch():
    x = ag.tensor([1.0, 10.0, 5.0], requires_grad=True)
    src = ag.tensor([2.0, 4.0, 9.0, 9.0], requires_grad=True)
    index = ag.tensor([0, 0, 2, 2])
    np.testing.assert_allclose(x.scatter_reduce(0, index, src, "mean").numpy(),
                               [7.0 / 3.0, 10.0, 23.0 / 3.0], rtol=1e-6)
    assert x.scatter_reduce(0, index, src, "mean", include_self=False).tolist() == [3.0, 10.0,
                                                                                    9.0]
    top = x.scatter_reduce(0, index, src, "amax")
    assert top.tolist() == [4.0, 10.0, 9.0]
    top.sum().backward()  # tied maxima share the gradient, as torch
    assert x.grad.tolist() == [0.0, 1.0, 0.0] and src.grad.tolist() == [0.0, 1.0, 0.5, 0.5]
    assert x.scatter_reduce(0, index, src, "prod", include_self=False).tolist() == [8.0, 10.0,
                                                                                    81.0]


def test_masked_fill_masked_select_and_nonzero():
    x = ag.tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    mask = x < 0
    y = x.masked_fill(mask, 0.0)
    assert y.tolist() == [[1.0, 0.0], [0.0, 4.0]]
    assert x.masked_fill(ag.tensor([True, False]), ag.tensor(9.0)).tolist() == [[9.0, -2.0],
                                                                                 [9.0, 4.0]]
    picked = x.masked_select(mask)
    assert picked.tolist() == [-2.0, -3.0]
    (y.sum() + picked.sum()).backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert mask.nonzero().tolist() == [[0, 1], [1, 0]]
    rows, cols = ops.nonzero(mask, as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    with pytest.raises(TypeError, match="masked_fill: mask must be boolean"):
        x.masked_fill(ag.tensor([1, 0]), 0.0)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(3,\) does not"):
        x.masked_fill(ag.tensor([True, False, True]), 0.0)


def test_creation_infers_dtypes_as_torch():
    assert ag.tensor([1, 2]).dtype == np.int64 and ag.tensor([1.0, 2]).dtype == np.float32
    assert ops.arange(5).dtype == np.int64 and ops.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert ops.arange(0, 1, 0.25).dtype == np.float32
    assert ops.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert ops.full((2,), 3).dtype == np.int64 and ops.full(2, 1.5).dtype == np.float32
    assert ops.full((1,), True).dtype == np.bool_
    x = ag.tensor([1.0, 2.0], dtype=np.float64)
    assert ops.full_like(x, 7).dtype == np.float64 and ops.full_like(x, 7).tolist() == [7, 7]
    assert ops.empty(2, 3).shape == (2, 3) and ops.empty_like(x).dtype == np.float64
    assert ops.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    ag.manual_seed(0)
    r = ops.randint(3, 6, (100,))
    assert r.dtype == np.int64 and set(r.tolist()) == {3, 4, 5}
    assert ops.randint(2, (3, 2)).shape == (3, 2) and ops.randint(4, size=(5,)).shape == (5,)
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        ops.arange(0, 3, 0)


def test_max_and_min_over_a_dim_return_values_and_indices_as_torch():
    x = ag.tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 0.0]], requires_grad=True)
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]  # the first maximum
    assert x.max(dim=0, keepdim=True).values.shape == (1, 3)
    assert x.min(1).indices.tolist() == [0, 2]
    assert x.max().item() == 7.0 and x.max(axis=(0, 1)).item() == 7.0  # values only
    assert ops.max(x, ag.tensor([3.0, 3.0, 3.0])).tolist() == [[3.0, 5.0, 5.0], [7.0, 3.0, 3.0]]
    assert x.amax((0, 1)).item() == 7.0 and x.amin(0).tolist() == [1.0, 2.0, 0.0]
    values.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]  # ties share (documented)


def test_errors_are_the_exception_types_torch_raises_and_ours():
    x = ag.ones(3, 4)
    for bad in (lambda: x.reshape(5, 5), lambda: x.permute(0, 0), lambda: x @ ag.ones(3, 4),
                lambda: x.flip((1, 1)), lambda: x.clip(None, None)):
        with pytest.raises(RuntimeError):  # what torch raises
            bad()
        with pytest.raises(ValueError):  # what we always raised
            bad()
    with pytest.raises(IndexError, match="dimension 2 is out of range"):
        x.sum(2)
    with pytest.raises(IndexError, match="cumsum: dimension 1 is out of range"):
        ag.tensor(1.0).cumsum(1)
    with pytest.raises(RuntimeError, match="bitwise_and: needs integer or boolean tensors"):
        x & x


def test_zero_dimensional_tensors_take_dim_0_and_minus_1():
    s = ag.tensor(2.0, requires_grad=True)
    for out in (s.sum(0), s.sum(-1), ops.prod(s, 0), s.softmax(0), s.logsumexp(-1), s.mean(0)):
        assert out.shape == ()
    assert s.cumsum(-1).item() == 2.0 and s.flip(()).item() == 2.0


def test_degenerate_statistics_follow_torch():
    with np.errstate(all="ignore"):
        assert np.isnan(ag.zeros(1, 0, 3).mean((1,)).numpy()).all()  # 0 / 0
        one = ag.randn(2, 1)
        assert np.isnan(one.var(1).numpy()).all()  # a size-1 axis: 0 / 0
        five = ag.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
        assert np.isinf(five.var(1, correction=5).numpy()).all()  # dof 0: sum / 0


def test_indexing_with_nested_tuples_and_lists_as_torch():
    x = ag.arange(24.0).reshape(2, 3, 4)
    assert x[(1, 0), (2, 1)].tolist() == [x[1, 2].tolist(), x[0, 1].tolist()]
    assert x[((1, 0),)].shape == (2, 3, 4)
    assert x[(((0,),),)].shape == (1, 1, 3, 4)
    assert x[[0, 1], [2, 0]].tolist() == [[8.0, 9.0, 10.0, 11.0], [12.0, 13.0, 14.0, 15.0]]


def test_tensor_conversions_chunk_unfold_and_bitcast():
    x = ag.tensor([[1.5, -2.5], [3.0, 0.0]])
    assert x.int().dtype == np.int32 and x.long().tolist() == [[1, -2], [3, 0]]
    assert x.bool().tolist() == [[True, True], [True, False]] and x.half().dtype == np.float16
    assert x.type(np.float64).dtype == np.float64 and x.type() == "float32"
    assert x.neg().tolist() == [[-1.5, 2.5], [-3.0, -0.0]]
    assert [c.shape for c in ag.arange(5.0).chunk(2)] == [(3,), (2,)]
    assert ag.arange(5.0).unfold(0, 2, 2).tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert ag.tensor([1.0]).view(np.int32).tolist() == [1065353216]
    assert ag.tensor([[True, True], [True, True]]).tril().dtype == np.bool_


def test_xlogy_is_zero_where_x_is_zero_as_torch():
    a = ag.tensor([0.0, 0.0, 2.0], requires_grad=True)
    b = ag.tensor([0.0, 3.0, 3.0], requires_grad=True)
    out = ops.xlogy(a, b)
    assert out.tolist() == [0.0, 0.0, pytest.approx(2.0 * np.log(3.0))]
    out.sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, pytest.approx(np.log(3.0))]
    assert b.grad.tolist() == [0.0, 0.0, pytest.approx(2.0 / 3.0)]


def test_small_torch_conveniences():
    x = ag.arange(6.0).reshape(2, 3)
    assert [t.tolist() for t in x.unbind(1)] == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert ops.select(x, 1, -1).tolist() == [2.0, 5.0]
    assert ops.narrow(x, 1, 1, 2).tolist() == [[1.0, 2.0], [4.0, 5.0]]
    assert ops.index_select(x, 1, ag.tensor([2, 0])).tolist() == [[2.0, 0.0], [5.0, 3.0]]
    assert ops.movedim(ag.ones(2, 3, 4), 0, -1).shape == (3, 4, 2)
    assert ops.dot(ag.tensor([1.0, 2.0]), ag.tensor([3.0, 4.0])).item() == 11.0
    assert ops.outer(ag.tensor([1.0, 2.0]), ag.tensor([1.0, 0.0, -1.0])).shape == (2, 3)
    assert ops.trace(x[:, :2]).item() == 4.0
    assert ops.tensordot(ag.ones(2, 3), ag.ones(3, 4), 1).shape == (2, 4)
    with pytest.raises(RuntimeError, match=r"mm: expected 2-D and 2-D tensors, got shapes"):
        ops.mm(ag.ones(3), ag.ones(3, 2))
    with pytest.raises(RuntimeError, match="narrow: start 2 and length 2 do not fit"):
        ops.narrow(x, 1, 2, 2)
    assert ops.nan_to_num(ag.tensor([np.nan, np.inf, 1.0])).tolist()[0] == 0.0
    assert ops.hypot(ag.tensor([3.0]), ag.tensor([4.0])).item() == 5.0


@pytest.mark.parametrize(("index", "shape"), [
    ((1, slice(None), [0, 1, 1]), (3, 3, 5)),
    ((slice(None), 1, slice(None), [0, 2]), (2, 4, 2)),  # numpy: (2, 2, 4)
    (([1, 0], 1, [0, 2]), (2, 5)),
    ((None, 1, Ellipsis, [3, 0]), (1, 3, 4, 2)),
])
def test_ints_next_to_index_arrays_are_basic_indices_as_torch(index, shape):
    # torch drops an int's axis first, so x[:, 1, :, idx] keeps idx's axis in place where
    # numpy would move it to the front; the shapes are torch's
    x = ag.tensor(np.arange(120.0).reshape(2, 3, 4, 5), requires_grad=True)
    out = x[tuple(np.array(k) if isinstance(k, list) else k for k in index)]
    assert out.shape == shape
    out.sum().backward()
    assert x.grad.sum().item() == out.data.size  # every picked element got its gradient
