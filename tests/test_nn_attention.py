"""Attention against PyTorch: scaled_dot_product_attention (masks, causal, GQA, scale,
dropout) and MultiheadAttention (parameters, masks, layouts), values and gradients."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.testing import check_grads

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(11)


def pair(*shape, grad=True):
    a = RNG.standard_normal(shape)
    return (ag.Tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


def assert_same(ours, theirs, rtol=1e-9, atol=1e-11):
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=rtol, atol=atol)


def backward_both(ours, theirs):
    cot = RNG.standard_normal(ours.shape)
    (ours * cot).sum().backward()
    (theirs * torch.tensor(cot)).sum().backward()


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# --------------------------------------------------------- scaled dot-product attention
def mask_for(kind, shape):
    if kind == "bool":
        m = RNG.random(shape) > 0.3
        m[..., 0] = True  # no fully masked row here
        return m, torch.tensor(m)
    if kind == "float":
        m = RNG.standard_normal(shape)
        return m, torch.tensor(m)
    return None, None


CASES = {  # query, key, value shapes
    "4d": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),
    "3d": ((3, 4, 5), (3, 4, 5), (3, 4, 5)),
    "2d": ((4, 5), (6, 5), (6, 3)),
    "broadcast_batch": ((2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 5)),
}


@pytest.mark.parametrize("scale", [None, 0.3])
@pytest.mark.parametrize("mask", [None, "bool", "float"])
@pytest.mark.parametrize("case", CASES)
def test_sdpa_matches_torch(case, mask, scale):
    (q, tq), (k, tk), (v, tv) = (pair(*s) for s in CASES[case])
    m, tm = mask_for(mask, CASES[case][0][:-1] + (CASES[case][1][-2],))
    ours = F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=scale)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, scale=scale)
    assert_same(ours, theirs)
    backward_both(ours, theirs)
    for a, b in ((q, tq), (k, tk), (v, tv)):
        assert_same(a.grad, b.grad)


@pytest.mark.parametrize("lengths", [(5, 5), (3, 5), (5, 3)])
def test_sdpa_causal_matches_torch_and_a_numpy_oracle(lengths):
    n_q, n_k = lengths
    (q, tq), (k, tk), (v, tv) = pair(2, n_q, 4), pair(2, n_k, 4), pair(2, n_k, 3)
    ours = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    assert_same(ours, theirs)
    scores = q.data @ k.data.swapaxes(-1, -2) / 2.0
    scores = np.where(np.tril(np.ones(lengths, bool)), scores, -np.inf)
    np.testing.assert_allclose(ours.data, softmax(scores) @ v.data, rtol=1e-12)
    backward_both(ours, theirs)
    for a, b in ((q, tq), (k, tk), (v, tv)):
        assert_same(a.grad, b.grad)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_sdpa_grouped_query_attention_matches_torch(kv_heads):
    (q, tq) = pair(2, 4, 3, 5)
    (k, tk), (v, tv) = pair(2, kv_heads, 6, 5), pair(2, kv_heads, 6, 5)
    ours = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    assert_same(ours, theirs)
    backward_both(ours, theirs)
    for a, b in ((q, tq), (k, tk), (v, tv)):
        assert_same(a.grad, b.grad)  # each key/value head sums its group's gradients


def test_sdpa_fully_masked_rows_are_zero_with_zero_gradient_as_torch():
    (q, tq), (k, tk), (v, tv) = pair(1, 3, 4), pair(1, 5, 4), pair(1, 5, 2)
    m = np.ones((3, 5), bool)
    m[1] = False
    ours = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(m))
    assert_same(ours, theirs)
    np.testing.assert_array_equal(ours.data[0, 1], 0.0)
    backward_both(ours, theirs)
    for a, b in ((q, tq), (k, tk), (v, tv)):
        assert np.all(np.isfinite(a.grad.data))
        assert_same(a.grad, b.grad)


def test_sdpa_float_mask_gets_a_gradient():
    (q, tq), (k, tk), (v, tv) = pair(2, 3, 4), pair(2, 5, 4), pair(2, 5, 4)
    m, tm = pair(3, 5)
    ours = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    backward_both(ours, theirs)
    assert_same(m.grad, tm.grad)


def test_sdpa_dropout_uses_the_library_generator_and_scales_survivors():
    q = ag.Tensor(RNG.standard_normal((2, 4, 3)))
    v = ag.Tensor(np.eye(4)[None].repeat(2, 0))  # output rows are the attention weights
    ag.manual_seed(3)
    dropped = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    ag.manual_seed(3)
    again = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    np.testing.assert_array_equal(dropped.data, again.data)
    weights = F.scaled_dot_product_attention(q, q, v).data
    kept = dropped.data != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(dropped.data[kept], 2 * weights[kept], rtol=1e-12)


def test_sdpa_second_order_gradients():
    q, k, v = (ag.Tensor(RNG.standard_normal(s), requires_grad=True)
               for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    m = RNG.random((3, 5)) > 0.4
    m[:, 0] = True
    check_grads(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                q, k, v, order=2)
    check_grads(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True,
                                                               scale=0.7), q, k, v, order=2)


def test_sdpa_float32_stays_float32():
    q = ag.randn(2, 3, 4)
    assert F.scaled_dot_product_attention(q, q, q, attn_mask=np.zeros((3, 3))).dtype == \
        np.float32


@pytest.mark.parametrize(("shapes", "kwargs", "match"), [
    (((2, 3, 4, 5), (2, 2, 4, 5), (2, 2, 4, 5)), {"enable_gqa": True},
     r"number of key and value heads must divide the number of query heads"),
    (((2, 3, 4, 5), (2, 2, 4, 5), (2, 2, 4, 5)), {},
     r"batch dimensions of query \(2, 3, 4, 5\), key \(2, 2, 4, 5\)"),
    (((4, 5), (6, 4), (6, 3)), {}, r"expected query \(\.\.\., L, E\)"),
    (((4, 5), (6, 5), (5, 3)), {}, r"got \(4, 5\), \(6, 5\) and \(5, 3\)"),
    (((4, 5), (4, 5), (4, 5)), {"is_causal": True, "attn_mask": np.ones((4, 4), bool)},
     "either attn_mask or is_causal"),
])
def test_sdpa_errors_are_runtime_errors_naming_shapes(shapes, kwargs, match):
    q, k, v = (ag.zeros(*s) for s in shapes)
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention: .*" + match):
        F.scaled_dot_product_attention(q, k, v, **kwargs)


def test_sdpa_gqa_error_type_is_torchs():
    q, k = torch.zeros(1, 3, 2, 4), torch.zeros(1, 2, 2, 4)
    with pytest.raises(RuntimeError):
        TF.scaled_dot_product_attention(q, k, k, enable_gqa=True)


# ---------------------------------------------------------------- MultiheadAttention
def twin(**kwargs):
    """Our MultiheadAttention and torch's with the same (float64) parameters."""
    theirs = torch.nn.MultiheadAttention(**kwargs).double()
    ours = nn.MultiheadAttention(**kwargs).double()
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert sorted(state) == sorted(ours.state_dict())
    ours.load_state_dict(state)
    return ours, theirs


def test_mha_parameters_have_torchs_names_shapes_and_init():
    ours = nn.MultiheadAttention(12, 3)
    theirs = torch.nn.MultiheadAttention(12, 3)
    got = {k: tuple(v.shape) for k, v in ours.named_parameters()}
    assert got == {k: tuple(v.shape) for k, v in theirs.named_parameters()}
    assert list(got) == [k for k, _ in theirs.named_parameters()]
    np.testing.assert_array_equal(ours.in_proj_bias.data, 0.0)
    np.testing.assert_array_equal(ours.out_proj.bias.data, 0.0)
    bound = np.sqrt(6 / (12 + 36))  # xavier_uniform_ on (3E, E)
    assert np.abs(ours.in_proj_weight.data).max() <= bound
    other = nn.MultiheadAttention(12, 3, bias=False, add_bias_kv=True, kdim=5, vdim=7)
    other_t = torch.nn.MultiheadAttention(12, 3, bias=False, add_bias_kv=True, kdim=5, vdim=7)
    assert {k: tuple(v.shape) for k, v in other.named_parameters()} == \
        {k: tuple(v.shape) for k, v in other_t.named_parameters()}
    assert other.in_proj_weight is None and other.in_proj_bias is None


CONFIGS = {
    "plain": {},
    "batch_first": {"batch_first": True},
    "no_bias": {"bias": False},
    "kdim_vdim": {"kdim": 3, "vdim": 5},
    "bias_kv": {"add_bias_kv": True},
    "zero_attn": {"add_zero_attn": True},
}


def to_t(mask):
    return None if mask is None else torch.tensor(mask)


@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("masks", ["none", "bool", "float", "padding", "both", "3d"])
@pytest.mark.parametrize("config", CONFIGS)
def test_mha_matches_torch(config, masks, average):
    kwargs = {"embed_dim": 8, "num_heads": 2, **CONFIGS[config]}
    ours, theirs = twin(**kwargs)
    n, n_q, n_k, heads = 3, 4, 5, 2
    first = (n, n_q) if kwargs.get("batch_first") else (n_q, n)
    kv = (n, n_k) if kwargs.get("batch_first") else (n_k, n)
    (q, tq) = pair(*first, 8)
    (k, tk) = pair(*kv, kwargs.get("kdim", 8))
    (v, tv) = pair(*kv, kwargs.get("vdim", 8))
    attn_mask = key_padding_mask = None
    if masks in ("bool", "both"):
        attn_mask = RNG.random((n_q, n_k)) > 0.7
        attn_mask[:, 0] = False
    if masks == "float":
        attn_mask = RNG.standard_normal((n_q, n_k))
    if masks == "3d":
        attn_mask = RNG.standard_normal((n * heads, n_q, n_k))
    if masks in ("padding", "both"):
        key_padding_mask = np.zeros((n, n_k), bool)
        key_padding_mask[:, -2:] = [[True, False], [False, True], [True, True]]
    out, w = ours(q, k, v, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                  average_attn_weights=average)
    tout, tw = theirs(tq, tk, tv, key_padding_mask=to_t(key_padding_mask),
                      attn_mask=to_t(attn_mask), average_attn_weights=average)
    assert_same(out, tout)
    assert_same(w, tw)
    backward_both(out, tout)
    for a, b in ((q, tq), (k, tk), (v, tv)):
        assert_same(a.grad, b.grad)
    ours_grads = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_same(ours_grads[name].grad, p.grad)
    out2, none = ours(q.detach(), k.detach(), v.detach(), key_padding_mask=key_padding_mask,
                      attn_mask=attn_mask, need_weights=False)
    assert none is None
    assert_same(out2, tout)


def test_mha_unbatched_matches_torch():
    ours, theirs = twin(embed_dim=6, num_heads=3)
    (q, tq), (k, tk) = pair(4, 6), pair(5, 6)
    pad = np.array([False, False, True, False, True])
    out, w = ours(q, k, k, key_padding_mask=pad)
    tout, tw = theirs(tq, tk, tk, key_padding_mask=torch.tensor(pad))
    assert out.shape == (4, 6) and w.shape == (4, 5)
    assert_same(out, tout)
    assert_same(w, tw)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the NaN is the point
def test_mha_fully_masked_row_is_nan_with_weights_as_torch():
    ours, theirs = twin(embed_dim=4, num_heads=2)
    (x, tx) = pair(3, 1, 4)
    mask = np.zeros((3, 3), bool)
    mask[1] = True
    out, _ = ours(x, x, x, attn_mask=mask)
    tout, _ = theirs(tx, tx, tx, attn_mask=torch.tensor(mask))
    assert np.isnan(out.data[1]).all() and torch.isnan(tout[1]).all()
    assert np.isfinite(out.data[[0, 2]]).all()


def test_mha_dropout_only_in_training():
    mha = nn.MultiheadAttention(4, 2, dropout=0.5).double()
    x = ag.Tensor(RNG.standard_normal((3, 2, 4)))
    _, w_train = mha(x, x, x, average_attn_weights=False)
    assert (w_train.data == 0).any()
    mha.eval()
    _, w_eval = mha(x, x, x)
    np.testing.assert_allclose(w_eval.data.sum(-1), 1.0)


def test_mha_gradcheck_second_order():
    mha = nn.MultiheadAttention(4, 2, batch_first=True).double()
    q, k = (ag.Tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 3, 4),
                                                                            (2, 5, 4)))
    pad = np.array([[False] * 4 + [True], [False] * 5])
    check_grads(lambda a, b: mha(a, b, b, key_padding_mask=pad)[0], q, k, order=2)


def test_mha_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(5\) must be divisible by num_heads"):
        nn.MultiheadAttention(5, 2)
    mha = nn.MultiheadAttention(4, 2)
    x = ag.zeros(3, 2, 4)
    with pytest.raises(RuntimeError, match=r"2-D attn_mask must have shape \(3, 3\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 2), bool))
    with pytest.raises(RuntimeError, match=r"key_padding_mask must have shape \(2, 3\)"):
        mha(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(RuntimeError, match="is_causal is a hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"expected query \(L, N, 4\)"):
        mha(ag.zeros(3, 2, 5), x, x)
