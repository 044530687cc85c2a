"""Tests of the MATLAB-compatible bicubic resize against small independent computations."""

import math

import numpy as np
import pytest

from ds4023.data.imresize import contributions, cubic, imresize, resize_matrix


def loop_resize_1d(values, out_length, antialiasing=True):
    """Resize one vector with scalar loops, straight from MATLAB's documented recipe."""
    n = len(values)
    scale = out_length / n
    shrink = antialiasing and scale < 1

    def kernel(x):
        x = abs(x)
        if x <= 1:
            return 1.5 * x**3 - 2.5 * x**2 + 1
        if x <= 2:
            return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
        return 0.0

    def mirrored(j):  # 1-based index -> 0-based index into a symmetrically padded signal
        j = (j - 1) % (2 * n)
        return j if j < n else 2 * n - 1 - j

    width = 4 / scale if shrink else 4
    result = []
    for i in range(1, out_length + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        first = math.floor(u - width / 2)
        taps = range(first, first + math.ceil(width) + 2)
        w = [scale * kernel(scale * (u - j)) if shrink else kernel(u - j) for j in taps]
        result.append(sum(wk * values[mirrored(j)] for wk, j in zip(w, taps, strict=True)) / sum(w))
    return np.array(result)


def loop_resize_2d(image, shape, antialiasing=True):
    """Resize each column, then each row, with the loop version."""
    cols = np.column_stack([loop_resize_1d(c, shape[0], antialiasing) for c in image.T])
    return np.vstack([loop_resize_1d(r, shape[1], antialiasing) for r in cols])


def test_cubic_kernel_known_values():
    """Does the kernel take the textbook values of Keys' cubic with a = -0.5?"""
    x = np.array([0.0, 0.5, -0.5, 1.0, 1.5, -1.5, 2.0, 2.5, -3.0])
    expected = [1.0, 0.5625, 0.5625, 0.0, -0.0625, -0.0625, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(cubic(x), expected, atol=1e-15)


@pytest.mark.parametrize("n_in,n_out", [(28, 20), (4, 2), (5, 9), (7, 3), (10, 10), (3, 1)])
def test_weights_are_normalised(n_in, n_out):
    """Do the weights of every output sample sum to 1, and point inside the input?"""
    weights, indices = contributions(n_in, n_out, n_out / n_in)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-14)
    assert indices.min() >= 0 and indices.max() < n_in
    assert np.all(np.any(weights != 0, axis=0)), "all-zero weight columns should be dropped"


def test_hand_computed_antialiased_shrink():
    """Does a 4 -> 2 shrink use the stretched kernel and mirrored edges as worked out by hand?"""
    # scale 0.5: kernel 0.5*cubic(0.5 x), width 8; taps at 1-based -2..5, mirrored into 1..4.
    first = [35 / 64, 51 / 128, 13 / 128, -3 / 64]
    np.testing.assert_allclose(resize_matrix(4, 2), [first, first[::-1]], atol=1e-15)
    column = np.array([[1.0], [2.0], [3.0], [4.0]])
    np.testing.assert_allclose(imresize(column, (2, 1)), [[1.4609375], [3.5390625]], atol=1e-15)


def test_same_size_is_identity():
    """Does resizing to the same shape give back the image exactly?"""
    image = np.random.default_rng(0).random((6, 9))
    np.testing.assert_array_equal(imresize(image, (6, 9)), image)


@pytest.mark.parametrize("shape_in,shape_out", [((28, 28), (20, 20)), ((5, 4), (9, 11))])
def test_constant_image_stays_constant(shape_in, shape_out):
    """Does a constant image stay constant whether shrunk or enlarged?"""
    result = imresize(np.full(shape_in, 0.37), shape_out)
    assert result.shape == shape_out
    np.testing.assert_allclose(result, 0.37, atol=1e-14)


def test_rank_one_image_is_resized_separably():
    """Is resizing an outer product the outer product of the 1-D loop resizes?"""
    rng = np.random.default_rng(1)
    u, v = rng.random(28), rng.random(28)
    expected = np.outer(loop_resize_1d(u, 20), loop_resize_1d(v, 20))
    np.testing.assert_allclose(imresize(np.outer(u, v), (20, 20)), expected, atol=1e-13)


@pytest.mark.parametrize(
    "shape_in,shape_out,aa",
    [((28, 28), (20, 20), True), ((7, 11), (3, 15), True), ((6, 5), (4, 3), False)],
)
def test_matches_loop_implementation(shape_in, shape_out, aa):
    """Does the matrix form agree with the scalar loop recipe, shrinking and enlarging?"""
    image = np.random.default_rng(2).random(shape_in)
    expected = loop_resize_2d(image, shape_out, aa)
    np.testing.assert_allclose(imresize(image, shape_out, antialiasing=aa), expected, atol=1e-13)


def test_batch_equals_one_by_one():
    """Does a stack of images give the same result as resizing each image on its own?"""
    stack = np.random.default_rng(3).random((4, 28, 28))
    batch = imresize(stack, (20, 20))
    assert batch.shape == (4, 20, 20)
    for image, result in zip(stack, batch, strict=True):
        np.testing.assert_allclose(result, imresize(image, (20, 20)), atol=1e-15)


def test_rejects_non_image_input():
    """Does a 1-D input raise a clear ValueError instead of a shape error deep inside?"""
    with pytest.raises(ValueError, match="rows, cols"):
        imresize(np.arange(5.0), (2, 2))
