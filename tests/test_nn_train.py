"""End to end: small nets built from nn learn small synthetic problems (a few seconds)."""

import gc

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
from nn.data import DataLoader, Standardizer, TensorDataset


def sgd_step(model, lr):
    with ag.no_grad():
        for p in model.parameters():
            p.data = p.data - lr * p.grad.data


def sine_classes(n, rng):
    """Seed 001 Fig. 4.3: two classes on two sine curves, not linearly separable."""
    t = rng.uniform(-3, 3, n)
    label = rng.integers(0, 2, n)
    y = np.sin(2 * t) + np.where(label == 1, 0.6, -0.6) + rng.normal(0, 0.1, n)
    return np.stack([t, y], axis=1).astype(np.float32), label


def accuracy(model, x, y):
    model.eval()
    with ag.no_grad():
        pred = model(ag.Tensor(x)).data.argmax(1)
    model.train()
    return (pred == y).mean()


def test_two_layer_mlp_learns_sine_classes():
    rng = np.random.default_rng(0)
    x_train, y_train = sine_classes(1000, rng)
    x_test, y_test = sine_classes(500, rng)
    scaler = Standardizer().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 2))
    assert accuracy(model, x_test, y_test) < 0.8
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    for _ in range(10):
        for xb, yb in loader:
            model.zero_grad()
            loss = F.cross_entropy(model(xb), yb) + nn.utils.l2_penalty(model, 1e-4)
            loss.backward()
            sgd_step(model, 0.3)
    assert accuracy(model, x_test, y_test) > 0.95


def bars(n, rng):
    """8x8 images with one horizontal (class 0) or vertical (class 1) bright bar, noisy."""
    images = rng.normal(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
    label = rng.integers(0, 2, n)
    where = rng.integers(0, 8, n)
    for k in range(n):
        if label[k] == 0:
            images[k, 0, where[k], :] += 1.0
        else:
            images[k, 0, :, where[k]] += 1.0
    return images, label


def test_small_cnn_with_batch_norm_and_dropout_learns_bars():
    rng = np.random.default_rng(1)
    x_train, y_train = bars(256, rng)
    x_test, y_test = bars(200, rng)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 2))
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    for _ in range(8):
        for xb, yb in loader:
            model.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            sgd_step(model, 0.1)
    assert nn.utils.unused_parameters(model) == []
    assert accuracy(model, x_test, y_test) > 0.95


def test_training_steps_leave_no_live_graph_and_no_reference_cycles():
    """TRAPS 8 for nn: no layer keeps a graph alive or creates cycles (modules, scopes)."""
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(8, 4), nn.LayerNorm(4), nn.ELU(),
        nn.Linear(4, 3))
    x, y = ag.randn(4, 1, 4, 4), np.array([0, 1, 2, 0])

    def step():
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        sgd_step(model, 0.01)

    step()
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            step()
        assert ag.live_nodes() == 0
        assert gc.collect() == 0
    finally:
        gc.enable()
