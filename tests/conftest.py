"""Test configuration: hypothesis profiles (``ci`` under CI=true, else ``dev``) and seeding."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import autograd_core as ag
from autograd_core.tensor import _use_array_namespaces

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _seed_and_restore():
    """Every test starts from the same seed, default dtype and grad mode."""
    ag.manual_seed(0)
    np.random.seed(0)
    dtype = ag.get_default_dtype()
    yield
    ag.set_default_dtype(dtype)
    _use_array_namespaces(False)  # a test on another array library must not leave the
    # rest on its (slower, any-library) rule namespace: the numpy path stays tested
    assert ag.is_grad_enabled(), "a test left grad mode disabled"
