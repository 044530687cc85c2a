"""MATLAB-compatible bicubic image resizing (the default of MATLAB's ``imresize``), vectorised."""

from __future__ import annotations

import numpy as np

#: Support of the bicubic kernel at scale 1: it is non-zero only on (-2, 2).
KERNEL_WIDTH = 4.0


def cubic(x: np.ndarray) -> np.ndarray:
    """Evaluate Keys' bicubic convolution kernel with a = -0.5, as MATLAB uses it.

    Args:
        x: Distances in input pixels (any shape).

    Returns:
        Kernel values, same shape as ``x``: 1 at 0, 0 at every other integer, 0 beyond |x| = 2.
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1.0)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1.0) & (ax <= 2.0))
    return inner + outer


def contributions(
    in_length: int, out_length: int, scale: float, antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Compute, for each output sample, which input samples contribute and with what weight.

    This follows MATLAB's scheme: output pixel ``i`` (1-based) sits at input coordinate
    ``u = i / scale + (1 - 1 / scale) / 2``; when shrinking with antialiasing the kernel is
    stretched to ``scale * cubic(scale * x)`` of width ``4 / scale``; each row of weights is
    normalised to sum 1; indices outside the image are mirrored (symmetric padding); and
    columns whose weight is zero for every output sample are dropped.

    Args:
        in_length: Number of input samples along the dimension.
        out_length: Number of output samples along the dimension.
        scale: ``out_length / in_length`` (MATLAB's scale factor for this dimension).
        antialiasing: Stretch the kernel when shrinking (MATLAB's default is True).

    Returns:
        ``(weights, indices)``, both of shape ``(out_length, P)``: ``weights`` float64 with rows
        summing to 1, ``indices`` int64 0-based positions in the input.

    Raises:
        ValueError: If a length is not positive or the scale is not positive.
    """
    if in_length < 1 or out_length < 1 or scale <= 0:
        raise ValueError(f"bad resize: {in_length} -> {out_length} at scale {scale}")
    width = KERNEL_WIDTH
    stretch = antialiasing and scale < 1.0
    if stretch:
        width = KERNEL_WIDTH / scale

    out_pos = np.arange(1, out_length + 1, dtype=np.float64)
    centre = out_pos / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based input coordinate
    left = np.floor(centre - width / 2.0)
    taps = int(np.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, may fall outside the image
    dist = centre[:, None] - indices
    weights = scale * cubic(scale * dist) if stretch else cubic(dist)
    weights = weights / weights.sum(axis=1, keepdims=True)

    # Symmetric padding: walk 1..n, then n..1, and repeat (1-based mirror with edge repeated).
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, mirror.size)]

    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


def resize_matrix(in_length: int, out_length: int, antialiasing: bool = True) -> np.ndarray:
    """Build the dense linear map that resizes one dimension of length ``in_length``.

    Args:
        in_length: Number of input samples.
        out_length: Number of output samples.
        antialiasing: Stretch the kernel when shrinking (MATLAB's default is True).

    Returns:
        Matrix of shape ``(out_length, in_length)``; ``matrix @ v`` resizes the vector ``v``.
        Mirrored taps that land on the same input sample are added together.
    """
    weights, indices = contributions(in_length, out_length, out_length / in_length, antialiasing)
    matrix = np.zeros((out_length, in_length))
    rows = np.broadcast_to(np.arange(out_length)[:, None], indices.shape)
    np.add.at(matrix, (rows, indices), weights)
    return matrix


def imresize(
    image: np.ndarray, output_shape: tuple[int, int], antialiasing: bool = True
) -> np.ndarray:
    """Resize 2-D float images exactly as MATLAB's ``imresize(img, [rows cols])`` does.

    Bicubic (a = -0.5) with antialiasing when shrinking. A stack of images of shape
    ``(..., rows, cols)`` is resized in one go with two matrix products. Like MATLAB, the
    dimension with the smaller scale factor is resized first (rows first on a tie); the result
    is not clipped, so values may overshoot the input range slightly (as in MATLAB for doubles).

    Args:
        image: Array of shape ``(rows, cols)`` or ``(..., rows, cols)``; converted to float64.
        output_shape: ``(out_rows, out_cols)``.
        antialiasing: Stretch the kernel when shrinking (MATLAB's default is True).

    Returns:
        float64 array of shape ``(..., out_rows, out_cols)``.

    Raises:
        ValueError: If ``image`` has fewer than 2 dimensions or the output shape is not 2 ints.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim < 2 or len(output_shape) != 2:
        raise ValueError(
            f"imresize needs (..., rows, cols) and (out_rows, out_cols), "
            f"got shapes {img.shape} and {tuple(output_shape)}"
        )
    n_rows, n_cols = img.shape[-2:]
    out_rows, out_cols = (int(v) for v in output_shape)
    row_map = resize_matrix(n_rows, out_rows, antialiasing)
    col_map = resize_matrix(n_cols, out_cols, antialiasing)
    if out_cols / n_cols < out_rows / n_rows:
        return row_map @ (img @ col_map.T)
    return (row_map @ img) @ col_map.T
