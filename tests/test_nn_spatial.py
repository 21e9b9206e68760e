"""Convolution, pooling, padding and interpolation against torch: values, gradients, errors."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.testing import check_grads

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(2024)
# torch warns that its own "same" padding with even kernels copies the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def against_torch(ours, theirs, *arrays, atol=1e-9, grads=True):
    """Run ``ours`` on float64 leaves and ``theirs`` on torch copies; compare the outputs and
    (for one random upstream gradient) the gradients of every input."""
    leaves = [ag.Tensor(a, requires_grad=grads) for a in arrays]
    tleaves = [torch.tensor(a, requires_grad=grads) for a in arrays]
    out, tout = ours(*leaves), theirs(*tleaves)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=atol, rtol=1e-7)
    if grads:
        g = RNG.standard_normal(out.shape)
        out.backward(g)
        tout.backward(torch.tensor(g))
        for leaf, tleaf in zip(leaves, tleaves, strict=True):
            np.testing.assert_allclose(leaf.grad.data, tleaf.grad.numpy(), atol=atol, rtol=1e-7)


def randn(*shape):
    return RNG.standard_normal(shape)


# -------------------------------------------------------------------------- F.pad
PADS = [(1, 2), (2, 0, 1, 3), (-1, 2, 0, -1), (1, 1, 2, 2, 1, 0), (0, 0, 1, 1)]


@pytest.mark.parametrize("pads", PADS)
@pytest.mark.parametrize("value", [None, 2.5])
def test_pad_constant_matches_torch(pads, value):
    x = randn(2, 3, 4, 5)
    kw = {} if value is None else {"value": value}
    against_torch(lambda t: F.pad(t, pads, **kw), lambda t: TF.pad(t, pads, **kw), x)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(1, 2), (3, 0, 1, 2), (2, 1, 0, 3), (-1, 2), (1, 1, 1, 1, 1, 1)])
def test_pad_modes_match_torch(mode, pads):
    x = randn(*(2, 3, 4, 5, 6)[:len(pads) // 2 + 2])  # torch's supported ranks
    against_torch(lambda t: F.pad(t, pads, mode=mode), lambda t: TF.pad(t, pads, mode=mode), x)


def test_pad_errors_name_the_op_and_shapes():
    x = ag.zeros(3, 3)
    with pytest.raises(ValueError, match=r"pad: .*even length.*\(3, 3\)"):
        F.pad(x, (2, 0, 2))
    with pytest.raises(ValueError, match="pad: "):
        F.pad(x, (0, 0, 0, 0, 1, 0))
    with pytest.raises(NotImplementedError, match="pad: mode"):
        F.pad(x, (1, 1), mode="typo")
    with pytest.raises(ValueError, match="pad: reflect widths"):
        F.pad(ag.zeros(1, 2, 3), (3, 0), mode="reflect")


# ---------------------------------------------------------------------- convolution
CONV2D = {
    "plain": dict(),
    "stride2_pad1": dict(stride=2, padding=1),
    "asym_stride_pad": dict(stride=(2, 1), padding=(0, 2)),
    "dilation2": dict(dilation=2, padding=1),
    "dilation_asym": dict(dilation=(1, 3), stride=(2, 1)),
    "groups2": dict(groups=2, padding=1),
    "depthwise": dict(groups=4, stride=2),
    "groups_dilation": dict(groups=2, dilation=2, stride=2, padding=2),
    "same": dict(padding="same"),
    "same_dilation": dict(padding="same", dilation=(2, 1)),
    "valid": dict(padding="valid"),
}


@pytest.mark.parametrize("name", CONV2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(name, bias):
    kw = CONV2D[name]
    g = kw.get("groups", 1)
    x, w = randn(2, 4, 7, 8), randn(6 if g != 4 else 8, 4 // g, 3, 2)
    args = (x, w, randn(w.shape[0])) if bias else (x, w)
    against_torch(lambda *t: F.conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), *args)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2),
                                dict(groups=2, padding="same"), dict(groups=4, stride=3)])
def test_conv1d_matches_torch(kw):
    x, w, b = randn(2, 4, 11), randn(4, 4 // kw.get("groups", 1), 3), randn(4)
    against_torch(lambda *t: F.conv1d(*t, **kw), lambda *t: TF.conv1d(*t, **kw), x, w, b)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=(2, 1, 1)),
                                dict(groups=2, stride=(1, 2, 1), padding=(1, 0, 1)),
                                dict(padding="same")])
def test_conv3d_matches_torch(kw):
    x, w, b = randn(2, 2, 5, 6, 5), randn(4, 2 // kw.get("groups", 1), 3, 2, 3), randn(4)
    against_torch(lambda *t: F.conv3d(*t, **kw), lambda *t: TF.conv3d(*t, **kw), x, w, b)


CONV_T = {
    "plain": dict(),
    "stride2": dict(stride=2),
    "stride_pad_outpad": dict(stride=2, padding=1, output_padding=1),
    "asym": dict(stride=(3, 1), padding=(1, 0), output_padding=(2, 0)),
    "groups": dict(groups=2, stride=2),
    "dilation": dict(dilation=2, padding=2),
    "dilation_outpad": dict(dilation=(2, 1), stride=(1, 2), output_padding=1),
    "big_padding": dict(padding=2),
}


@pytest.mark.parametrize("name", CONV_T)
def test_conv_transpose2d_matches_torch(name):
    kw = CONV_T[name]
    x, w, b = randn(2, 4, 4, 5), randn(4, 6 // kw.get("groups", 1), 3, 3), randn(6)
    against_torch(lambda *t: F.conv_transpose2d(*t, **kw),
                  lambda *t: TF.conv_transpose2d(*t, **kw), x, w, b)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(groups=2, dilation=2)])
def test_conv_transpose1d_and_3d_match_torch(kw):
    x, w, b = randn(2, 4, 5), randn(4, 3, 3), randn(3 * kw.get("groups", 1))
    against_torch(lambda *t: F.conv_transpose1d(*t, **kw),
                  lambda *t: TF.conv_transpose1d(*t, **kw), x, w, b)
    x, w, b = randn(1, 2, 3, 4, 3), randn(2, 2, 2, 3, 2), randn(2 * kw.get("groups", 1))
    against_torch(lambda *t: F.conv_transpose3d(*t, **kw),
                  lambda *t: TF.conv_transpose3d(*t, **kw), x, w, b)


def test_conv_unbatched_inputs_match_torch():
    against_torch(F.conv1d, TF.conv1d, randn(2, 7), randn(3, 2, 3))
    against_torch(lambda x, w: F.conv2d(x, w, groups=2), lambda x, w: TF.conv2d(x, w, groups=2),
                  randn(4, 5, 5), randn(2, 2, 3, 3))
    against_torch(F.conv_transpose2d, TF.conv_transpose2d, randn(2, 3, 3), randn(2, 3, 2, 2))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv_modules_match_torch_including_padding_modes(mode):
    ours = nn.Conv2d(4, 6, (3, 2), 1, (1, 2), (1, 2), 2, True, mode).double()
    theirs = torch.nn.Conv2d(4, 6, (3, 2), 1, (1, 2), (1, 2), 2, True, mode).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = randn(2, 4, 6, 7)
    np.testing.assert_allclose(ours(ag.Tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)
    assert ours.weight.shape == tuple(theirs.weight.shape)


@pytest.mark.parametrize("cls, shape", [("Conv1d", (2, 4, 9)), ("Conv3d", (1, 4, 5, 5, 5)),
                                        ("ConvTranspose1d", (2, 4, 6)),
                                        ("ConvTranspose2d", (2, 4, 5, 5)),
                                        ("ConvTranspose3d", (1, 4, 3, 3, 3))])
def test_other_conv_modules_match_torch(cls, shape):
    args = (4, 6, 3, 2, 1) if "Transpose" in cls else (4, 6, 3, 2, 1, 1, 2)
    ours, theirs = getattr(nn, cls)(*args).double(), getattr(torch.nn, cls)(*args).double()
    assert ours.weight.shape == tuple(theirs.weight.shape)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = randn(*shape)
    np.testing.assert_allclose(ours(ag.Tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)


def test_conv_transpose_module_output_size_picks_output_padding():
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    assert ours(ag.zeros(1, 2, 4, 4), output_size=(8, 8)).shape == (1, 3, 8, 8)
    assert ours(ag.zeros(1, 2, 4, 4)).shape == (1, 3, 7, 7)


def test_conv_errors_name_the_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"conv2d: kernel \(3, 3\) \(dilation \(3, 3\)\) is "
                                           r"larger than the \(padded\) input"):
        F.conv2d(ag.zeros(1, 1, 6, 7), ag.zeros(6, 1, 3, 3), dilation=3)
    with pytest.raises(ValueError, match="larger than the"):  # also a ValueError
        F.conv2d(ag.zeros(2, 16, 2, 2), ag.zeros(32, 16, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: padding must be .* 2 ints, got \(1, 1, 1\)"):
        F.conv2d(ag.zeros(2, 16, 5, 5), ag.zeros(32, 16, 3, 3), padding=(1, 1, 1))
    with pytest.raises(RuntimeError, match=r"conv2d: input has 4 channels .*groups=3"):
        F.conv2d(ag.zeros(1, 4, 5, 5), ag.zeros(6, 2, 3, 3), groups=3)
    with pytest.raises(RuntimeError, match=r"conv1d: expected a 2-D .* got shape \(5,\)"):
        F.conv1d(ag.zeros(5), ag.zeros(1, 1, 3))
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding"):
        F.conv_transpose2d(ag.zeros(1, 2, 3, 3), ag.zeros(2, 2, 3, 3), stride=2,
                           output_padding=2)
    with pytest.raises(ValueError, match="Conv2d: in_channels 3 .* groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)


# -------------------------------------------------------------------------- pooling
MAX_POOL = {
    "k2": dict(kernel_size=2),
    "k3_s2_p1": dict(kernel_size=3, stride=2, padding=1),
    "asym": dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0)),
    "dilation": dict(kernel_size=2, dilation=2),
    "dilation_stride_pad": dict(kernel_size=(3, 2), stride=2, dilation=(2, 3), padding=1),
    "ceil": dict(kernel_size=2, ceil_mode=True),
    "ceil_s2_p1": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    "ceil_dilation": dict(kernel_size=2, stride=3, dilation=2, ceil_mode=True),
}


@pytest.mark.parametrize("name", MAX_POOL)
def test_max_pool2d_values_gradients_and_indices_match_torch(name):
    kw = MAX_POOL[name]
    x = randn(2, 3, 7, 8)
    against_torch(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), x)
    against_torch(lambda t: F.max_pool2d(t, return_indices=True, **kw)[0],
                  lambda t: TF.max_pool2d(t, return_indices=True, **kw)[0], x)
    ours = F.max_pool2d(ag.Tensor(x), return_indices=True, **kw)[1]
    theirs = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)[1]
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=2, stride=1, padding=1),
                                dict(kernel_size=3, dilation=2, ceil_mode=True, stride=2)])
def test_max_pool1d_and_3d_match_torch(kw):
    for ours, theirs, shape in ((F.max_pool1d, TF.max_pool1d, (2, 3, 11)),
                                (F.max_pool3d, TF.max_pool3d, (1, 2, 7, 6, 7))):
        x = randn(*shape)
        against_torch(lambda t: ours(t, **kw), lambda t: theirs(t, **kw), x)  # noqa: B023
        got = ours(ag.Tensor(x), return_indices=True, **kw)[1].data
        np.testing.assert_array_equal(got, theirs(torch.tensor(x), return_indices=True,
                                                  **kw)[1].numpy())


def test_max_pool_indices_take_the_first_maximum_and_nan_as_torch():
    x = np.array([[[[1.0, 1.0, -np.inf], [1.0, 0.0, np.nan], [-np.inf, -np.inf, 2.0]]]])
    for kw in (dict(kernel_size=2, stride=1), dict(kernel_size=2, padding=1)):
        ours = F.max_pool2d(ag.Tensor(x), return_indices=True, **kw)
        theirs = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(ours[0].data, theirs[0].numpy())
        np.testing.assert_array_equal(ours[1].data, theirs[1].numpy())


AVG_POOL = {
    "k2": dict(kernel_size=2),
    "k3_s2_p1": dict(kernel_size=3, stride=2, padding=1),
    "no_pad_count": dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    "ceil": dict(kernel_size=3, stride=2, ceil_mode=True),
    "ceil_pad": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    "ceil_pad_not_counted": dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True,
                                 count_include_pad=False),
    "divisor": dict(kernel_size=2, stride=1, padding=1, divisor_override=3),
}


@pytest.mark.parametrize("name", AVG_POOL)
def test_avg_pool2d_matches_torch(name):
    kw = AVG_POOL[name]
    against_torch(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw),
                  randn(2, 3, 7, 8))


@pytest.mark.parametrize("name", ["k2", "k3_s2_p1", "no_pad_count", "ceil_pad"])
def test_avg_pool1d_and_3d_match_torch(name):
    kw = {k: v for k, v in AVG_POOL[name].items() if k != "divisor_override"}
    against_torch(lambda t: F.avg_pool1d(t, **kw), lambda t: TF.avg_pool1d(t, **kw),
                  randn(2, 3, 9))
    against_torch(lambda t: F.avg_pool3d(t, **kw), lambda t: TF.avg_pool3d(t, **kw),
                  randn(1, 2, 5, 7, 6))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=3, padding=1),
                                dict(kernel_size=(2, 3), stride=(3, 3))])
def test_max_unpool2d_matches_torch(kw):
    x = randn(2, 3, 8, 9)
    values, indices = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    against_torch(lambda v: F.max_unpool2d(v, ag.Tensor(indices.numpy()), output_size=(8, 9),
                                           **kw),
                  lambda v: TF.max_unpool2d(v, indices, output_size=(8, 9), **kw),
                  values.numpy())
    values, indices = TF.max_pool2d(torch.tensor(x[..., :8]), 2, return_indices=True)
    got = F.max_unpool2d(ag.Tensor(values.numpy()), ag.Tensor(indices.numpy()), 2)
    np.testing.assert_array_equal(got.data, TF.max_unpool2d(values, indices, 2).numpy())


def test_max_unpool1d_matches_torch():
    values, indices = TF.max_pool1d(torch.tensor(randn(2, 3, 9)), 2, return_indices=True)
    against_torch(lambda v: F.max_unpool1d(v, ag.Tensor(indices.numpy()), 2),
                  lambda v: TF.max_unpool1d(v, indices, 2), values.numpy())


@pytest.mark.parametrize("size", [1, 3, (2, 5), (None, 4), (7, 6)])
def test_adaptive_pools_match_torch(size):
    x = randn(2, 3, 7, 9)
    against_torch(lambda t: F.adaptive_avg_pool2d(t, size),
                  lambda t: TF.adaptive_avg_pool2d(t, size), x)
    against_torch(lambda t: F.adaptive_max_pool2d(t, size),
                  lambda t: TF.adaptive_max_pool2d(t, size), x)
    ours = F.adaptive_max_pool2d(ag.Tensor(x), size, return_indices=True)[1]
    np.testing.assert_array_equal(ours.data, TF.adaptive_max_pool2d(
        torch.tensor(x), size, return_indices=True)[1].numpy())
    n = size if isinstance(size, int) else 4
    against_torch(lambda t: F.adaptive_avg_pool1d(t, n), lambda t: TF.adaptive_avg_pool1d(t, n),
                  randn(2, 3, 10))


@pytest.mark.parametrize("cls, args, shape", [
    ("MaxPool1d", (3, 2, 1), (2, 3, 10)),
    ("MaxPool2d", (3, 2, 1, 1, False, True), (2, 3, 9, 8)),
    ("MaxPool3d", (2,), (1, 2, 4, 5, 4)),
    ("AvgPool1d", (3, 2, 1, True, False), (2, 3, 10)),
    ("AvgPool2d", (3, 2, 1, True, False), (2, 3, 9, 8)),
    ("AvgPool3d", (2, 1, 1), (1, 2, 4, 5, 4)),
    ("AdaptiveAvgPool2d", ((3, 2),), (2, 3, 9, 8)),
    ("AdaptiveMaxPool2d", (3,), (2, 3, 9, 8)),
    ("Upsample", (None, 2, "bilinear"), (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", ((5, 7),), (2, 3, 4, 5)),
    ("UpsamplingNearest2d", (None, 3), (2, 3, 4, 5)),
])
def test_pool_and_upsample_modules_match_torch(cls, args, shape):
    x = randn(*shape)
    against_torch(getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args), x)


def test_pool_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match="max_pool2d: padding .* at most half"):
        F.max_pool2d(ag.zeros(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: kernel \(5, 5\) .* larger"):
        F.avg_pool2d(ag.zeros(1, 1, 4, 4), 5)
    with pytest.raises(RuntimeError, match=r"max_pool3d: expected a 4-D .* got shape \(4, 4\)"):
        F.max_pool3d(ag.zeros(4, 4), 2)
    with pytest.raises(RuntimeError, match=r"max_unpool2d: indices must lie in \[0, 4\)"):
        F.max_unpool2d(ag.ones(1, 1, 1, 1), ag.Tensor(np.array([[[[9]]]])), 2)
    with pytest.raises(RuntimeError, match=r"max_unpool2d: indices of shape \(1,\)"):
        F.max_unpool2d(ag.ones(1, 1, 1, 1), ag.Tensor(np.array([0])), 2)


# -------------------------------------------------------------------- interpolation
INTERP = [
    ("nearest", (5,), (9,), None), ("nearest", (9,), (4,), None),
    ("nearest-exact", (13,), (9,), None), ("nearest-exact", (9, 11), (13, 5), None),
    ("nearest", (6, 7), (13, 3), None),
    ("linear", (7,), (12,), None), ("linear", (12,), (5,), True), ("linear", (6,), (1,), True),
    ("bilinear", (4, 6), (9, 4), None), ("bilinear", (4, 6), (9, 4), True),
    ("trilinear", (3, 2, 4), (5, 3, 2), None), ("trilinear", (3, 2, 4), (5, 3, 2), True),
    ("area", (7, 9), (3, 4), None), ("nearest", (3, 2, 4), (5, 3, 2), None),
]


@pytest.mark.parametrize("mode, shape, size, align", INTERP)
def test_interpolate_size_matches_torch(mode, shape, size, align):
    x = randn(2, 3, *shape)
    kw = {} if align is None else {"align_corners": align}
    against_torch(lambda t: F.interpolate(t, size=size, mode=mode, **kw),
                  lambda t: TF.interpolate(t, size=size, mode=mode, **kw), x)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear"])
@pytest.mark.parametrize("scale", [2, 0.5, (1.7, 2.3), 3.0])
@pytest.mark.parametrize("recompute", [None, True])
def test_interpolate_scale_factor_matches_torch(mode, scale, recompute):
    kw = dict(scale_factor=scale, mode=mode, recompute_scale_factor=recompute)
    against_torch(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw),
                  randn(1, 2, 5, 7))


def test_interpolate_keeps_integer_dtypes_as_torch():
    x = (RNG.random((2, 3, 16, 16)) * 200).astype(np.uint8)
    for mode in ("nearest", "nearest-exact"):
        ours = F.interpolate(ag.Tensor(x), size=(5, 7), mode=mode)
        assert ours.dtype == np.uint8
        np.testing.assert_array_equal(
            ours.data, TF.interpolate(torch.tensor(x), size=(5, 7), mode=mode).numpy())


def test_interpolate_errors():
    x = ag.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"interpolate: mode 'linear' needs a 3-D input"):
        F.interpolate(x, size=3, mode="linear")
    with pytest.raises(ValueError, match="interpolate: align_corners"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="interpolate: give exactly one"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match="interpolate: mode"):
        F.interpolate(x, size=3, mode="bicubicle")


# ------------------------------------------------------------- finite differences
def leaf(*shape):
    return ag.Tensor(RNG.standard_normal(shape), requires_grad=True)


GRADCHECK = {
    "pad_constant": (lambda x: F.pad(x, (1, -1, 2, 0), value=0.5), [(1, 2, 3, 4)]),
    "pad_reflect": (lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), [(1, 2, 3, 4)]),
    "pad_replicate": (lambda x: F.pad(x, (2, 1), mode="replicate"), [(2, 3, 4)]),
    "pad_circular": (lambda x: F.pad(x, (2, 1, 1, 0), mode="circular"), [(1, 1, 3, 4)]),
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, 2, 1, 2, 2), [(2, 4, 9), (2, 2, 3), (2,)]),
    "conv2d_groups_dilation": (lambda x, w, b: F.conv2d(x, w, b, 1, 1, (2, 1), 2),
                               [(1, 4, 5, 5), (2, 2, 2, 3), (2,)]),
    "conv2d_depthwise": (lambda x, w: F.conv2d(x, w, stride=2, groups=3),
                         [(1, 3, 5, 5), (3, 1, 3, 3)]),
    "conv3d": (lambda x, w, b: F.conv3d(x, w, b, (2, 1, 1), 1),
               [(1, 2, 4, 3, 3), (2, 2, 2, 2, 2), (2,)]),
    "conv_transpose1d": (lambda x, w, b: F.conv_transpose1d(x, w, b, 2, 1, 1),
                         [(1, 2, 4), (2, 3, 3), (3,)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2, 1),
                         [(1, 4, 3, 3), (4, 1, 3, 3), (2,)]),
    "conv_transpose3d": (lambda x, w: F.conv_transpose3d(x, w, stride=2),
                         [(1, 1, 2, 2, 2), (1, 2, 2, 2, 2)]),
    "max_pool1d": (lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True), [(2, 2, 8)]),
    "max_pool2d_dilation": (lambda x: F.max_pool2d(x, 2, 1, 0, 2), [(1, 2, 5, 5)]),
    "max_pool2d_ceil": (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 2, 6, 6)]),
    "max_pool3d": (lambda x: F.max_pool3d(x, 2, 1), [(1, 1, 3, 3, 3)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, 2, 1, True, False), [(2, 2, 8)]),
    "avg_pool2d_ceil": (lambda x: F.avg_pool2d(x, 3, 2, 1, True), [(1, 2, 6, 6)]),
    "avg_pool3d": (lambda x: F.avg_pool3d(x, 2, 1, 1, count_include_pad=False),
                   [(1, 1, 3, 3, 3)]),
    "max_unpool2d": (lambda x: F.max_unpool2d(
        x, ag.Tensor(np.array([[[[0, 3], [10, 15]]]])), 2), [(1, 1, 2, 2)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(1, 2, 5, 4)]),
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 3), [(1, 2, 5)]),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (2, 3)), [(1, 2, 5, 4)]),
    "interpolate_nearest": (lambda x: F.interpolate(x, size=(5, 3)), [(1, 2, 3, 4)]),
    "interpolate_nearest_exact": (lambda x: F.interpolate(x, scale_factor=1.5,
                                                          mode="nearest-exact"), [(1, 2, 5)]),
    "interpolate_linear": (lambda x: F.interpolate(x, size=7, mode="linear"), [(1, 2, 4)]),
    "interpolate_bilinear": (lambda x: F.interpolate(x, size=(5, 3), mode="bilinear",
                                                     align_corners=True), [(1, 2, 3, 4)]),
    "interpolate_trilinear": (lambda x: F.interpolate(x, scale_factor=2, mode="trilinear"),
                              [(1, 1, 2, 2, 3)]),
}


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradients_first_and_second_order_match_finite_differences(name):
    f, shapes = GRADCHECK[name]
    check_grads(f, *(leaf(*s) for s in shapes), order=2)


def test_pooling_and_padding_record_no_crop_they_do_not_need():
    """A max-pool whose windows tile the input, and a pad with no negative width, record
    their op right on the input: a no-op crop would be a getitem whose backward writes a
    zero array of the whole input (W5's pooling paid two such copies a step)."""
    x = ag.randn(2, 3, 8, 8, requires_grad=True)
    pooled = F.max_pool2d(x, 2)
    assert pooled.grad_fn.op_name == "window_max" and pooled.grad_fn._parents == (x,)
    padded = F.pad(x, (1, 1, 2, 0))
    assert padded.grad_fn.op_name == "pad" and padded.grad_fn._parents == (x,)
    cropped = F.pad(x, (-1, 1))
    assert cropped.shape == (2, 3, 8, 8) and cropped.grad_fn.op_name == "pad"
    assert cropped.grad_fn._parents[0].op_name == "getitem"
