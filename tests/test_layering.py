"""Dependencies point down: the engine imports nothing from nn, optim or agc_train."""

import pkgutil
import subprocess
import sys

import autograd_core

ABOVE = ("nn", "optim", "agc_train")


def test_importing_every_engine_module_loads_nothing_above_it():
    modules = [m.name for m in pkgutil.walk_packages(autograd_core.__path__, "autograd_core.")]
    assert "autograd_core.viz" in modules and "autograd_core.testing" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {ABOVE!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_main_job_and_its_data_live_above_nn_and_optim():
    import agc_train.datasets
    import agc_train.train

    assert not hasattr(autograd_core, "train") and not hasattr(autograd_core, "datasets")
    assert agc_train.datasets.load_digits().x_train.shape[1:] == (1, 8, 8)
