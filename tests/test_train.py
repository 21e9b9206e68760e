"""The main job (issue F): outputs written, weights reload, defaults reach the stated accuracy."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import autograd_core as ag
from agc_train.datasets import load_digits
from agc_train.train import build_model, main, parse_args


def test_short_run_writes_every_output(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--epochs", "2", "--out", str(out), "--model", "mlp", "--batchnorm",
                 "--dropout", "0.1", "--optimizer", "nesterov"]) == 0
    printed = capsys.readouterr().out
    assert "epoch   2" in printed and "test accuracy" in printed
    log = json.loads((out / "log.json").read_text())
    assert [r["epoch"] for r in log["epochs"]] == [1, 2]
    assert log["args"]["optimizer"] == "nesterov" and 0 <= log["test_acc"] <= 1
    assert (out / "curves.png").stat().st_size > 1000
    assert "cluster_" in (out / "graph.dot").read_text()
    if shutil.which("dot"):
        assert (out / "graph.svg").read_text().lstrip().startswith("<?xml")


def test_saved_weights_reproduce_the_logged_accuracy(tmp_path):
    out = tmp_path / "run"
    main(["--epochs", "3", "--out", str(out), "--quiet", "--model", "cnn"])
    log = json.loads((out / "log.json").read_text())
    model = build_model("cnn", batchnorm=False, dropout=0.0)
    with np.load(out / "weights.npz") as f:
        model.load_state_dict(f)
    model.eval()
    split = load_digits(seed=0)
    mean = split.x_train.mean(axis=0, keepdims=True)
    std = split.x_train.std(axis=0, keepdims=True)
    x = (split.x_test - mean) / np.where(std > 0, std, 1)
    with ag.no_grad():
        pred = model(ag.Tensor(x.astype(np.float32))).data.argmax(axis=1)
    assert np.isclose((pred == split.y_test).mean(), log["test_acc"])


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--dropout", "1.5"])
    assert "--dropout must be in [0, 1)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--optimizer", "lbfgs"])


def test_console_script_and_module_entry_point(tmp_path):
    exe = shutil.which("agc-train")
    cmds = [[sys.executable, "-m", "agc_train"]] + ([[exe]] if exe else [])
    for cmd in cmds:
        r = subprocess.run([*cmd, "--help"], capture_output=True, text=True, check=True)
        assert "--batchnorm" in r.stdout and "--optimizer" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("model, target", [("mlp", 0.97), ("cnn", 0.98)])
def test_defaults_reach_the_stated_accuracy(tmp_path, model, target):
    main(["--model", model, "--out", str(tmp_path / model), "--quiet"])
    log = json.loads((tmp_path / model / "log.json").read_text())
    assert log["test_acc"] >= target


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch, capsys):
    from agc_train import train as job

    opts = ["--epochs", "3", "--quiet", "--model", "mlp", "--dropout", "0.1", "--augment"]
    main([*opts, "--out", str(tmp_path / "whole")])
    real, calls = job.evaluate, []

    def interrupted(*args, **kw):  # Ctrl-C during epoch 2's evaluation
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(job, "evaluate", interrupted)
    cut = tmp_path / "cut"
    assert main([*opts, "--out", str(cut)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--resume {cut}" in err  # one line, no traceback
    assert not (cut / "weights.npz").exists() and not list(cut.glob("*.tmp"))
    monkeypatch.setattr(job, "evaluate", real)
    assert main([*opts, "--resume", str(cut)]) == 0
    with np.load(tmp_path / "whole" / "weights.npz") as a, np.load(cut / "weights.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
    log = json.loads((cut / "log.json").read_text())
    assert [r["epoch"] for r in log["epochs"]] == [1, 2, 3]
    with pytest.raises(SystemExit, match="no checkpoint.pkl"):
        main([*opts, "--resume", str(tmp_path / "nothing")])


def test_outputs_are_written_whole_or_not_at_all(tmp_path):
    from agc_train.train import atomic_write

    path = tmp_path / "log.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(str(path)) as f:
        f.write("half of the new")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and not list(tmp_path.glob("*.tmp"))
    with atomic_write(str(path)) as f:
        f.write("new")
    assert path.read_text() == "new"


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_compiled_training_gives_the_same_weights_bit_for_bit(tmp_path, model):
    """--compile replays the step (dropout, batch norm or augmentation, Adam, the cosine
    schedule between epochs, a smaller last batch): the weights equal eager's exactly."""
    opts = ["--epochs", "2", "--quiet", "--model", model, "--dropout", "0.2",
            "--batchnorm" if model == "mlp" else "--augment"]
    main([*opts, "--out", str(tmp_path / "eager")])
    main([*opts, "--out", str(tmp_path / "compiled"), "--compile"])
    with (np.load(tmp_path / "eager" / "weights.npz") as a,
          np.load(tmp_path / "compiled" / "weights.npz") as b):
        assert sorted(a.files) == sorted(b.files)
        assert all(np.array_equal(a[k], b[k]) for k in a.files)

