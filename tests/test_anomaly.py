"""Anomaly mode (issue G): the first NaN/Inf gradient names its op, shapes and source line."""

import numpy as np
import pytest

import autograd_core as ag


def model(x, w):
    h = ag.tanh(x @ w)
    bad = ag.log(h * 0.0)  # THE BAD LINE: log(0)
    return (h + bad * 0.0).sum()


def test_log_of_zero_is_named_with_its_line():
    x = ag.Tensor(np.ones((2, 3)))
    w = ag.Tensor(np.full((3, 4), 0.1), requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(RuntimeError) as err:
        model(x, w).backward()
    msg = str(err.value)
    assert "op 'log'" in msg and "(2, 4)" in msg
    assert "test_anomaly.py:11 in model" in msg


def test_zero_over_zero_names_the_forward_origin():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    w = ag.tensor([2.0, 3.0], requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(RuntimeError) as err:
        q = x / x          # 0/0 = NaN in the forward pass
        (q * w).sum().backward()
    msg = str(err.value)
    assert "backward of op 'mul'" in msg
    assert "first produced by op 'div'" in msg and "test_anomaly.py:29 in" in msg


def test_forward_check_raises_at_the_op():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    with ag.detect_anomaly(check_forward=True), pytest.raises(
            RuntimeError, match=r"forward of op 'log'"):
        ag.log(x)


def test_anomaly_mode_is_off_by_default_and_restored():
    assert not ag.engine.STATE.anomaly
    with ag.detect_anomaly():
        assert ag.engine.STATE.anomaly
        y = ag.tensor([1.0], requires_grad=True) * 2
    assert not ag.engine.STATE.anomaly
    assert "site" in y.grad_fn._meta
    z = ag.tensor([1.0], requires_grad=True) * 2
    assert z.grad_fn._meta is None
