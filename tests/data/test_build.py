"""Tests of the data build: the rebuilt ex4data1.mat, the weights copy, bad input, atomicity."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat

from ds4023.data import build as data_build
from tests.helpers import COURSE_ROOT

SHARED = Path(os.environ.get("DS4023_SHARED_DATA", COURSE_ROOT.parent / "shared" / "data"))


def run_cli(*args, env=None):
    """Run ``python -m ds4023.data.build`` in a subprocess and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "ds4023.cli", "data", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def listing(folder):
    """Names of the files in a folder, temp files included."""
    return sorted(p.name for p in Path(folder).iterdir())


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Build the data once from scratch into a temp folder with the CLI; return that folder."""
    out = tmp_path_factory.mktemp("data")
    proc = run_cli("--shared", SHARED, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def arrays(built):
    """X, y, Theta1, Theta2 as a student would load them."""
    data, weights = loadmat(built / "ex4data1.mat"), loadmat(built / "ex4weights.mat")
    return data["X"], data["y"], weights["Theta1"], weights["Theta2"]


@pytest.fixture
def data_copy(built, tmp_path):
    """A private copy of the built data folder that a test may damage."""
    return Path(shutil.copytree(built, tmp_path / "data"))


def cost_and_accuracy(X, y, theta1, theta2):
    """Unregularised logistic cost and accuracy of the 2-layer network, written out plainly."""
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    ones = np.ones((len(X), 1))
    h = sigmoid(np.hstack([ones, sigmoid(np.hstack([ones, X]) @ theta1.T)]) @ theta2.T)
    Y = np.eye(10)[y.ravel() - 1]
    cost = np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / len(X)
    return cost, np.mean(np.argmax(h, axis=1) + 1 == y.ravel())


def test_first_row_matches_published_values(arrays):
    """Is X[0] within 1e-7 of the published first example?"""
    row0 = np.loadtxt(SHARED / "ex4data1_row0.txt")
    assert np.abs(arrays[0][0] - row0).max() < 1e-7


def test_shapes_dtypes_and_label_order(arrays):
    """Are X (5000, 400) float64 and y (5000, 1) uint8, with 500 labels each in order 10, 1..9?"""
    X, y = arrays[:2]
    assert X.shape == (5000, 400) and X.dtype == np.float64
    assert y.shape == (5000, 1) and y.dtype == np.uint8
    blocks = y.ravel().reshape(10, 500)
    assert np.all(blocks == np.array([10, 1, 2, 3, 4, 5, 6, 7, 8, 9])[:, None])


def test_weights_are_the_verified_original(built):
    """Is data/ex4weights.mat byte-identical to the original with the published checksum?"""
    assert data_build.sha256_of(built / "ex4weights.mat") == data_build.WEIGHTS_SHA256
    theta = loadmat(built / "ex4weights.mat")
    assert theta["Theta1"].shape == (25, 401) and theta["Theta2"].shape == (10, 26)


def test_published_cost_and_accuracy(arrays):
    """Do the pretrained weights give the exercise's cost and 97.52 % accuracy on the data?"""
    X, y, theta1, theta2 = arrays
    cost, accuracy = cost_and_accuracy(X, y, theta1, theta2)
    assert cost == pytest.approx(0.28765, abs=5e-5)
    assert round(accuracy * 100, 2) == 97.52
    flipped = X.reshape(-1, 20, 20).transpose(0, 2, 1).reshape(-1, 400)
    cost_t, _ = cost_and_accuracy(flipped, y, theta1, theta2)
    reg = (np.sum(theta1[:, 1:] ** 2) + np.sum(theta2[:, 1:] ** 2)) / (2 * 5000)
    assert round(cost_t, 4) == 5.8303
    assert round(cost_t + reg, 4) == 5.9265
    assert reg == pytest.approx(0.0961407, abs=1e-7)


def test_reference_values_agree_with_plain_computation(arrays):
    """Does the build's own check function report the same numbers as the plain computation?"""
    X, y, theta1, theta2 = arrays
    values = data_build.reference_values(X, y, theta1, theta2)
    cost, accuracy = cost_and_accuracy(X, y, theta1, theta2)
    assert values["cost_octave"] == pytest.approx(cost, abs=1e-12)
    assert values["accuracy"] == accuracy


def test_second_run_only_verifies(data_copy):
    """Does a second run leave valid files untouched (same inode and mtime) and say so?"""
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in data_copy.iterdir()}
    proc = run_cli("--shared", SHARED, "--out", data_copy)
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout and "present, sha256 verified" in proc.stdout
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in data_copy.iterdir()}
    assert after == before


def test_corrupt_data_file_is_rebuilt(data_copy):
    """Is a truncated ex4data1.mat detected and rebuilt rather than trusted?"""
    target = data_copy / "ex4data1.mat"
    target.write_bytes(target.read_bytes()[:100_000])
    proc = run_cli("--shared", SHARED, "--out", data_copy)
    assert proc.returncode == 0, proc.stderr
    assert "rebuilt" in proc.stdout
    assert loadmat(target)["X"].shape == (5000, 400)
    assert listing(data_copy) == ["ex4data1.mat", "ex4data1.mat.sha256", "ex4weights.mat"]


def test_damaged_weights_copy_is_replaced(data_copy):
    """Is a damaged data/ex4weights.mat replaced by a fresh verified copy of the shared file?"""
    (data_copy / "ex4weights.mat").write_bytes(b"MATLAB 5.0 MAT-file, garbage")
    proc = run_cli("--shared", SHARED, "--out", data_copy)
    assert proc.returncode == 0, proc.stderr
    assert "replaced" in proc.stdout
    assert data_build.sha256_of(data_copy / "ex4weights.mat") == data_build.WEIGHTS_SHA256


def damaged_shared(tmp_path, how):
    """A shared-data folder whose ex4weights.mat is missing, altered or truncated."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(SHARED / "ex4data1_row0.txt", shared)
    original = (SHARED / "ex4weights.mat").read_bytes()
    if how == "altered":
        (shared / "ex4weights.mat").write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    elif how == "truncated":
        (shared / "ex4weights.mat").write_bytes(original[: len(original) // 2])
    return shared


@pytest.mark.parametrize(
    "how,message", [("missing", "is missing"), ("altered", "sha256"), ("truncated", "sha256")]
)
def test_bad_shared_weights_fail_cleanly(tmp_path, how, message):
    """Does a missing, altered or truncated shared file give one error line, exit 2, no files?"""
    out = tmp_path / "out"
    proc = run_cli("--shared", damaged_shared(tmp_path, how), "--out", out)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "ex4weights.mat" in lines[0]
    assert listing(out) == []


def test_shared_folder_comes_from_environment(tmp_path):
    """Is DS4023_SHARED_DATA used to find the shared data when --shared is not given?"""
    empty = tmp_path / "nowhere"
    empty.mkdir()
    proc = run_cli("--out", tmp_path / "out", env={"DS4023_SHARED_DATA": str(empty)})
    assert proc.returncode == 2 and str(empty) in proc.stderr


def test_interrupted_write_leaves_no_data(built, tmp_path, monkeypatch, arrays):
    """Does an interruption while writing ex4data1.mat leave neither the file nor a temp file?"""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(built / "ex4weights.mat", out)
    monkeypatch.setattr(data_build, "build_arrays", lambda: (arrays[0], arrays[1]))

    def half_write(path, *args, **kwargs):
        Path(path).write_bytes(b"MATLAB 5.0 MAT-file, half written")
        raise KeyboardInterrupt

    monkeypatch.setattr("scipy.io.savemat", half_write)
    with pytest.raises(KeyboardInterrupt):
        data_build.main(["--shared", str(SHARED), "--out", str(out)])
    assert listing(out) == ["ex4weights.mat"]


def test_file_without_build_record_is_not_trusted(data_copy, monkeypatch, arrays):
    """Is a data file with no matching build record (e.g. a killed build) rebuilt?"""
    (data_copy / "ex4data1.mat.sha256").unlink()
    monkeypatch.setattr(data_build, "build_arrays", lambda: (arrays[0], arrays[1]))
    assert data_build.main(["--shared", str(SHARED), "--out", str(data_copy)]) == 0
    assert data_build._record_matches(data_copy / "ex4data1.mat", data_copy / "ex4data1.mat.sha256")
