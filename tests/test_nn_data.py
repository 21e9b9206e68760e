"""nn.data: datasets, the seeded loader, train-only standardisation, image augmentation."""

import numpy as np
import pytest

import autograd_core as ag
from nn.data import (
    Compose,
    DataLoader,
    RandomCrop,
    RandomHorizontalFlip,
    Standardizer,
    TensorDataset,
)


def dataset(n=10):
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n))


def test_tensor_dataset_checks_lengths():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    x, y = dataset()[4]
    assert x.tolist() == [8.0, 9.0] and y == 4


@pytest.mark.parametrize(("drop_last", "sizes"), [(False, [4, 4, 2]), (True, [4, 4])])
def test_loader_batches_in_order(drop_last, sizes):
    loader = DataLoader(dataset(), batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) and [len(y) for _, y in batches] == sizes
    assert np.concatenate([y.data for _, y in batches]).tolist() == list(range(sum(sizes)))
    x, y = batches[0]
    assert isinstance(x, ag.Tensor) and x.dtype == np.float32 and y.dtype.kind == "i"
    assert not x.requires_grad


def test_shuffle_is_a_fresh_permutation_each_epoch_and_reproducible():
    loader = DataLoader(dataset(), batch_size=3, shuffle=True)
    ag.manual_seed(5)
    first = [np.concatenate([y.data for _, y in loader]) for _ in range(2)]
    ag.manual_seed(5)
    again = np.concatenate([y.data for _, y in loader])
    assert sorted(first[0].tolist()) == list(range(10))
    assert not np.array_equal(first[0], first[1])
    np.testing.assert_array_equal(first[0], again)
    mine = DataLoader(dataset(), batch_size=10, shuffle=True, generator=np.random.default_rng(1))
    (_, y), = mine
    np.testing.assert_array_equal(y.data, np.random.default_rng(1).permutation(10))


def test_loader_reads_any_indexable_dataset():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i % 2

    x, y = next(iter(DataLoader(Squares(), batch_size=5)))
    assert x.data.tolist() == [[i, i * i] for i in range(5)] and y.tolist() == [0, 1, 0, 1, 0]


def test_loader_transform_applies_to_inputs_only():
    loader = DataLoader(dataset(4), batch_size=4, transform=lambda x: -x)
    (x, y), = loader
    assert x.data[1].tolist() == [-2.0, -3.0] and y.tolist() == [0, 1, 2, 3]


def test_standardizer_is_fitted_on_training_data_only():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((100, 3)) * [1.0, 5.0, 0.0] + [2.0, -1.0, 7.0]
    test = rng.standard_normal((10, 3))
    s = Standardizer().fit(train)
    z = s.transform(train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), [1, 1, 0], atol=1e-12)  # constant column: std 1
    expected = (test - train.mean(0)) / np.where(train.std(0) > 0, train.std(0), 1)
    np.testing.assert_allclose(s.transform(test), expected)
    centred = Standardizer(with_std=False).fit_transform(ag.Tensor(train))
    assert isinstance(centred, ag.Tensor)
    np.testing.assert_allclose(centred.data, train - train.mean(0))
    images = rng.standard_normal((6, 3, 4, 4))
    per_channel = Standardizer(axis=(0, 2, 3)).fit_transform(images)
    np.testing.assert_allclose(per_channel.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(train)


def test_random_crop_cuts_a_window_of_the_padded_image_per_sample():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((64, 2, 5, 6))
    crops = RandomCrop(size=(5, 6), padding=2, generator=np.random.default_rng(3))(images)
    assert crops.shape == images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for k in range(64):
        matches = [(i, j) for i in range(5) for j in range(5)
                   if np.array_equal(padded[k, :, i:i + 5, j:j + 6], crops[k])]
        assert matches, f"crop {k} is not a window of its padded image"
        offsets.add(matches[0])
    assert len(offsets) > 10  # positions vary between images
    smaller = RandomCrop(3, generator=np.random.default_rng(0))(images)
    assert smaller.shape == (64, 2, 3, 3)
    with pytest.raises(ValueError, match="larger than"):
        RandomCrop(9)(images)


def test_random_horizontal_flip_mirrors_about_half_the_images():
    images = np.arange(200 * 3, dtype=np.float32).reshape(200, 1, 1, 3)
    out = RandomHorizontalFlip(generator=np.random.default_rng(0))(images)
    flipped = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, images, strict=True)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, images, strict=True)])
    assert np.all(flipped ^ kept) and 70 < flipped.sum() < 130
    both = Compose([RandomCrop(padding=1), RandomHorizontalFlip(p=0.0)])
    assert both(images).shape == images.shape
