"""RandomShift: every output is its input shifted by at most ±k pixels with a zero border, seeded,
non-mutating, and usable as fit's per-batch augment hook."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.augment import RandomShift, random_shift


def shifted(image: np.ndarray, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
    """Reference: out[r, c] = image[r − dy, c − dx], ``fill`` where that falls outside (a plain loop)."""
    h, w = image.shape[:2]
    out = np.full_like(image, fill)
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = image[r - dy, c - dx]
    return out


def matching_shifts(image: np.ndarray, result: np.ndarray, k: int) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-k, k + 1) for dx in range(-k, k + 1)
            if np.array_equal(shifted(image, dy, dx), result)]


def test_each_image_is_a_shift_of_its_input():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.1, 1.0, (40, 36)).astype(np.float32)  # 6×6 images with no zero pixel: shifts are unique
    out = RandomShift(2)(X, np.random.default_rng(1))
    assert out.shape == X.shape and out.dtype == X.dtype
    seen = set()
    for x, o in zip(X, out):
        found = matching_shifts(x.reshape(6, 6), o.reshape(6, 6), 2)
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) > 10  # the shifts vary from image to image


def test_all_shifts_occur_uniformly():
    X = np.zeros((5000, 9), dtype=np.float32)
    X[:, 4] = 1.0  # one lit pixel in the centre of a 3×3 image: its new place reveals the shift
    out = RandomShift(1)(X, np.random.default_rng(3))
    where = out.argmax(axis=1)
    assert np.all(out.sum(axis=1) == 1.0)  # with k = 1 the centre pixel never leaves the image
    counts = np.bincount(where, minlength=9)
    assert counts.min() > 450 and counts.max() < 660  # 9 shifts, ~556 each


def test_seeded_and_does_not_modify_the_input():
    X = np.random.default_rng(0).random((8, 784))
    before = X.copy()
    a = RandomShift(2)(X, np.random.default_rng(5))
    b = random_shift(X, np.random.default_rng(5), max_shift=2)
    c = RandomShift(2)(X, np.random.default_rng(6))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.shares_memory(a, X)


def test_zero_shift_is_a_copy_and_channels_and_fill_work():
    X = np.arange(16.0).reshape(1, 16)
    out = RandomShift(0)(X, np.random.default_rng(0))
    np.testing.assert_array_equal(out, X)
    assert out is not X
    rng = np.random.default_rng(2)
    images = rng.uniform(1, 2, (6, 4, 5, 3))
    out = RandomShift(1, image_shape=(4, 5, 3), fill=-1.0)(images.reshape(6, -1), np.random.default_rng(4))
    for x, o in zip(images, out.reshape(6, 4, 5, 3)):
        assert any(np.array_equal(shifted(x, dy, dx, -1.0), o) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: RandomShift(-1), "max_shift must be an int >= 0"),
    (lambda: RandomShift(1.5), "max_shift must be an int >= 0"),
    (lambda: RandomShift(1, image_shape=(4,)), "image_shape must be"),
    (lambda: RandomShift(1)(np.zeros((2, 10)), np.random.default_rng(0)), "not square images"),
    (lambda: RandomShift(1, image_shape=(3, 3))(np.zeros((2, 10)), np.random.default_rng(0)), "holds 9 values"),
    (lambda: RandomShift(1)(np.zeros((2, 3, 3)), np.random.default_rng(0)), "flattened images"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_fit_applies_it_per_batch_seeded_and_never_to_validation():
    rng = np.random.default_rng(0)
    X = rng.random((48, 16))
    y = rng.integers(0, 3, 48)
    Xv = rng.random((7, 16))
    calls = []
    shift = RandomShift(1)

    def recording(batch, gen):
        calls.append(len(batch))
        return shift(batch, gen)

    def train(seed):
        model = dp.mlp([16, 8, 3], activation="relu", output_activation="softmax", seed=0)
        model.fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=3, batch_size=16, validation_data=(Xv, rng.integers(0, 3, 7)),
                  augment=recording, seed=seed)
        return model.get_weights()

    a = train(1)
    assert calls == [16] * 9  # 3 batches × 3 epochs; the 7 validation rows never pass through it
    b = train(1)
    c = train(2)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a[key], c[key]) for key in a)
