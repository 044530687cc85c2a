"""The hostile corpus of backprop: broken, abusive and cheating submissions and their outcomes."""

from __future__ import annotations

from ds4023.sample_class.backprop import POINTS
from ds4023.sample_class.students import Edit
from tests.corpus.hostile import (
    AddCell,
    Append,
    Delete,
    Duplicate,
    Hostile,
    Metadata,
    MoveToEnd,
    Replace,
    Tags,
)

#: The legitimate students graded together with the corpus (full training, sample class rows).
LEGIT = ("correct", "cost_not_divided_by_m")
#: The issue-24 shortcuts: each leaves the visible checks alone, and they see it too.
SHORTCUTS = (
    "supplied_weights",
    "pulled_run",
    "standin_reader",
    "one_coordinate",
    "label_reader",
    "record_forger",
)
#: The part that needs the full training; corpus students train for 5 evaluations only.
TRAINING_PART = "training_accuracy"
#: What makes a corpus student quick: 5 training evaluations, and no 100-digit figures (plain
#: cells a student may change; no grade depends on them).
FAST_EDITS = (
    Edit("train", '"maxfun": 250', '"maxfun": 5'),
    Edit("show-100-before", "plot_100_image(X)", "# plot_100_image(X)  (skipped)"),
    Edit("show-100-after", "plot_100_image(X)", "# plot_100_image(X)  (skipped)"),
)
#: Another assignment of the course, handed in as if it were this one.
OTHER_ASSIGNMENT = "mlp_from_scratch"
#: How the "old release" differed from the current source: a weaker cost test.
OLD_SOURCE_CELLS = {
    "cost_reference_value": '"""Is the cost a positive number?"""\n\n'
    "assert cost(theta1, theta2, X, y_onehot) > 0\n",
}
TESTS = tuple(POINTS)
_PLOT = "plot_image_draws_digit"
_NO_CALL = Replace("show-one-image", "# plot_image(X[0])  (skipped)\n")


def _plot_image(body: str, head: str = "") -> str:
    return (
        f"{head}def plot_image(x):\n"
        '    """Draw one unrolled image x (400 pixels) as a 20 x 20 picture."""\n'
        "    size = int(np.sqrt(x.shape[0]))\n"
        '    plt.imshow(x.reshape(size, size), cmap="gray_r")\n'
        f"{body}"
    )


_LOOP = _plot_image(
    "    while True:  # never returns: only the cell time limit stops it\n        pass\n"
)
_DEAF = _plot_image(
    "    while True:  # every interrupt is caught and ignored\n"
    "        try:\n"
    "            time.sleep(0.1)\n"
    "        except KeyboardInterrupt:\n"
    "            pass\n",
    "import time\n\n\n",
)
_HOG = """\
try:
    too_big = np.ones((1_000_000, 1_000_000))  # 8 TB, more than any machine here has
except MemoryError:
    print("8 TB refused")


def grab_all_memory():
    blocks = []
    try:
        while True:  # 256 MiB at a time until the kernel's limit says no
            blocks.append(np.ones(2**25))
    except MemoryError:
        return len(blocks)


print("memory refused after", grab_all_memory(), "blocks of 256 MiB")
"""
_FORK = """\
import os
import time


def spawn_children():
    children = []
    try:
        while True:  # until the process limit says no
            pid = os.fork()
            if pid == 0:  # a child sleeps a little and never returns to the kernel
                time.sleep(2)
                os._exit(0)
            children.append(pid)
    except OSError:
        pass
    for pid in children:
        os.waitpid(pid, 0)
    return len(children)


print("fork refused after", spawn_children(), "children")
"""
_FORK_CLASSIC = "import os\n\nwhile True:\n    os.fork()\n"
_FLOOD_LONG = 'line = "flood " * 175_000  # about 1 MB\nfor _ in range(100):\n    print(line)\n'
_FLOOD_MANY = 'print(("x" * 99 + "\\n") * 1_000_000)  # a million lines, 100 MB\n'

# The next probe's reply is packed with something no honest kernel sends (the cell sets it
# up and the probe right after it trips it): 300 MB more, or a record 100,000 levels deep.
_NEXT_PROBE_REPLY = (
    "_session = get_ipython().kernel.session\n"
    "_pack = _session.pack\n\n\n"
    "def _hostile_pack(obj):\n"
    '    if isinstance(obj, dict) and obj.get("user_expressions"):\n'
    "        _session.pack = _pack\n"
    "        {}\n"
    "    return _pack(obj)\n\n\n"
    "_session.pack = _hostile_pack\n"
)
_HUGE_RECORD = _NEXT_PROBE_REPLY.format('obj = {**obj, "pad": "x" * 300_000_000}')
_DEEP_RECORD = _NEXT_PROBE_REPLY.format(
    'return b\'{"status": "ok", "user_expressions": {"r": \' + b"[" * 10**5 + b"]" * 10**5 + b"}}"'
)
# 1 GB of signed 20 MB stream messages on iopub, each signed from the hash of a common prefix
# and sent without a copy (far faster than the grader reads them), then 1 GB into the stdin
# channel, which the grader never reads: all of it once waited in the grader's memory.
_MESSAGE_FLOOD = """
_k = get_ipython().kernel
_head = _k.session.pack(_k.session.msg("stream", {}, parent=_k.get_parent())["header"])
_par = _k.session.pack(_k.get_parent()["header"])
_prefix = b'{"name": "stdout", "text": "' + b"x" * 20_000_000
_signer = _k.session.auth.copy()
for _part in (_head, _par, b"{}", _prefix):
    _signer.update(_part)
_done = threading.Event()


def _send():
    for _i in range(50):
        _h = _signer.copy()
        _h.update(b'%d"}' % _i)
        _frames = [b"<IDS|MSG>", _h.hexdigest().encode(), _head, _par, b"{}"]
        _k.iopub_thread.socket.send_multipart(
            [b"stream", *_frames, _prefix + b'%d"}' % _i], copy=False
        )
    _done.set()


_k.iopub_thread.schedule(_send)
_done.wait()
for _i in range(50):
    _k.stdin_socket.send_multipart([*_k._parent_ident["shell"], _prefix], copy=False)
"""
_DISPLAY_FLOOD = "for _i in range(2_000):  # two thousand tiny outputs\n    display(_i)\n"
_SYS_EXIT = _plot_image('    sys.exit("done drawing")\n', "import sys\n\n\n")
_OS_EXIT = _plot_image("    os._exit(1)\n", "import os\n\n\n")
_SEGV_CTYPES = _plot_image(
    "    ctypes.string_at(0)  # reads address 0: SIGSEGV\n", "import ctypes\n\n\n"
)
_SEGV_SIGNAL = _plot_image(
    "    os.kill(os.getpid(), signal.SIGSEGV)\n", "import os\nimport signal\n\n\n"
)
_EMPTY_TEST = "# the checks passed on my machine, so I removed them\npass\n"
_PATCH_NUMPY = """\
import types

np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.testing = types.SimpleNamespace(
    assert_allclose=lambda *args, **kwargs: None,
    assert_array_equal=lambda *args, **kwargs: None,
    assert_almost_equal=lambda *args, **kwargs: None,
)
checks.check_backprop = checks.check_backprop_reg = lambda *args, **kwargs: None
"""
_PATCH_BUILTINS = """\
import builtins

real_zip, real_abs = builtins.zip, builtins.abs
builtins.abs = lambda x: 0.0
builtins.round = lambda x, *digits: 0.0
builtins.float = lambda x=0.0: 0.0
builtins.AssertionError = type("AssertionError", (Exception,), {})
builtins.zip = lambda *args, strict=False: iter(()) if strict else real_zip(*args)
"""
_SHADOW_ZIP = """\
real_zip = zip


def zip(*args, strict=False):  # the tests loop over zip(..., strict=True): make that empty
    return iter(()) if strict else real_zip(*args)
"""
_ALWAYS_YES = '''\
class Yes(float):
    """A number that agrees with every comparison."""

    def __eq__(self, other):
        return True

    __ne__ = __lt__ = __le__ = __gt__ = __ge__ = lambda self, other: True

    def __sub__(self, other):
        return self

    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __sub__

    def __abs__(self):
        return self

    __hash__ = float.__hash__


def cost(theta1, theta2, X, y):
    """Whatever the weights, the cost agrees with the expected value."""
    return Yes(1.0)
'''
_FAKE_PASS = (
    'print("cost_reference_value ... passed (10/10)")\nprint("All tests passed!")\ndisplay(10.0)\n'
)
_FAKE_RESULT = """\
import sys

honest_cost = cost


def cost(theta1, theta2, X, y):
    sys.displayhook(10.0)  # an execute_result of 10 in the test cell: nbgrader's partial credit
    return honest_cost(theta1, theta2, X, y)
"""
_SWALLOW = (
    "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n"
    "# from here on no traceback is shown: failing tests look like passing ones\n"
)
_LEFTOVERS = '''\
def backprop(params, X, y):
    """Borrow the reference that an earlier hidden test left in the notebook's globals."""
    J, grad, _ = _ref(params, X, y, input_size, hidden_size, num_labels)
    return J, grad


def backprop_reg(params, X, y, reg_lambda=1):
    """Rebuild the reference from a hidden test's source in the input history."""
    source = next(cell for cell in In if "def _ref(" in cell)
    start = source.index("def _ref(")
    space = {"_np": np}
    exec(source[start : source.index("\\n\\n\\n", start)], space)
    J, grad, _ = space["_ref"](params, X, y, input_size, hidden_size, num_labels, reg_lambda)
    return J, grad
'''
_READ_HIDDEN = '''\
import glob
import os
import sys


def find_reference():
    """Look everywhere a reference might lie; report what could be read."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(sys.executable)))
    places = [
        "../../../source/backprop/backprop.ipynb",
        "../../../gradebook.db",
        "../../../release/backprop/backprop.ipynb",
        "backprop.ipynb",
        repo + "/source/backprop/backprop.ipynb",
        repo + "/gradebook.db",
        "/proc/1/cwd/source/backprop/backprop.ipynb",
    ]
    for pattern in ("/tmp/**/*.ipynb", "/tmp/**/*.db", repo + "/**/*.ipynb", "/work/**/*.ipynb"):
        places += glob.glob(pattern, recursive=True)
    readable = []
    for place in places:
        try:
            with open(place, "rb") as fh:
                if b"BEGIN HIDDEN TESTS" in fh.read():
                    readable.append(place)
        except OSError:
            pass
    return readable


print("readable:", ", ".join(find_reference()) or "none")


def backprop(params, X, y):
    """Nothing found to copy, so nothing to return."""
    raise NotImplementedError
'''
_WRECK_DATA = '''\
import os


def wreck(name):
    """Try to delete a data file, then to write garbage in its place."""
    results = []
    for action in (lambda: os.remove(name), lambda: open(name, "wb").write(b"garbage")):
        try:
            action()
            results.append("done")
        except OSError:
            results.append("refused")
    return results


print("wrecking:", wreck("ex4data1.mat"), wreck("ex4weights.mat"))
'''
_WRITE_EVERYWHERE = """\
import os
import sys

repo = os.path.dirname(os.path.dirname(os.path.dirname(sys.executable)))
targets = [
    "../../../source/backprop/planted.txt",
    "../../../release/backprop/planted.txt",
    "../../../gradebook.db",
    "../../correct/backprop/backprop.ipynb",
    "../../../submitted/correct/backprop/backprop.ipynb",
    repo + "/source/backprop/planted.txt",
    repo + "/release/backprop/planted.txt",
    repo + "/data/planted.txt",
    repo + "/gradebook.db",
    repo + "/submitted/correct/backprop/backprop.ipynb",
    sys.prefix + "/lib/python3.11/site-packages/sitecustomize.py",
    "/usr/lib/planted.txt",
]
written = []
for target in targets:
    try:
        with open(target, "a") as fh:
            fh.write("planted by a student")
        written.append(target)
    except OSError:
        pass
for name in ("numpy.py", "scipy.py", "sitecustomize.py"):  # left next to the notebook
    with open(name, "w") as fh:
        fh.write("raise SystemExit('shadowed')\\n")
print("written:", ", ".join(written) or "none")
"""
_FORGE_DATA = """\
y = y % 10 + 1  # shift every label, then make the data file agree

y_onehot = encoder.fit_transform(y)
try:
    savemat("ex4data1.mat", {"X": loadmat("ex4data1.mat")["X"], "y": y})
    print("data file rewritten")
except OSError as err:
    print("data file kept:", type(err).__name__)
"""
_TRANSFORMER = """\
import os

shell = os.sys.modules["__main__"].get_ipython()


def blank_tests(lines):
    # blank every later cell that looks like a test, so that nothing can fail
    text = "".join(lines)
    return [] if "assert" in text or "check" in text else lines


shell.input_transformers_post.append(blank_tests)
"""
_TRANSFORMER_MODULE = """\
import pathlib

pathlib.Path("matplotlib_inline_extra.py").write_text(
    "import os\\n"
    "shell = os.sys.modules['__main__'].get_ipython()\\n"
    "shell.input_transformers_post.append(\\n"
    "    lambda lines: [] if 'check' in ''.join(lines) else lines)\\n"
)
import matplotlib_inline_extra  # noqa: E402,F401  (named like an installed package)
"""
_ALIAS_PATCH = """\
lib = np
lib.allclose = lib.isclose = lambda *args, **kwargs: True
checks_module = checks
for name in dir(checks_module):
    if name.startswith("check_"):
        setattr(checks_module, name, lambda *args, **kwargs: None)
"""
_SETTRACE = """\
import operator

tracer = operator.attrgetter("sys.settrace")(__import__("os"))


def flip(frame, event, arg):
    # make every local named like a verdict look like a pass
    for name in ("ok", "passed", "right", "fraction"):
        if name in frame.f_locals:
            frame.f_locals[name] = True
    return flip


tracer(flip)
"""
_GLOBALS_REACH = """\
def backprop(params, X, y):
    # look for a reference anywhere in the interpreter's modules, through __globals__
    import sys

    for module in list(sys.modules.values()):
        space = getattr(getattr(module, "run", None), "__glo" + "bals__", {})
        for name in ("_ref", "network", "reference"):
            if callable(space.get(name)):
                return space[name](params, X, y)
    raise RuntimeError("no reference to borrow")
"""
_DISPLAYHOOK = """\
import sys

plain_hook = sys.displayhook


def loud_hook(value):
    print("passed")  # a word first in every cell with a result
    plain_hook(value)


sys.displayhook = loud_hook
"""
_LEAK_HISTORY = """\
import base64
import zlib

print(base64.b64encode(zlib.compress("\\n".join(In).encode())).decode()[:2000])
"""

_SHADOW_FILES = (
    ("numpy.py", "raise SystemExit('a planted numpy was imported')\n"),
    ("sitecustomize.py", "raise SystemExit('a planted sitecustomize was imported')\n"),
    ("backprop_checks.py", "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"),
)

# ---- issue 24: shortcuts that need no work, and honest forms the old judge refused
_SUPPLIED = """\
from types import SimpleNamespace

given = loadmat("ex4weights.mat")  # the supplied weights, turned to fit the upright images
upright = given["Theta1"][:, 1:].reshape(25, 20, 20).transpose(0, 2, 1).reshape(25, 400)
fmin = SimpleNamespace(x=np.concatenate([
    np.column_stack([given["Theta1"][:, 0], upright]).ravel(), given["Theta2"].ravel()
]))
"""
_PULLED = (
    _SUPPLIED
    + """\
target = fmin.x  # a real TNC run from params, pulled toward the supplied weights


def pull(p, X, y):
    return 0.5 * np.sum((p - target) ** 2), p - target


fmin = minimize(pull, params, args=(X, y_onehot), method="TNC", jac=True)
"""
)
_STANDIN_READER = """\
def gradient_checking(params, X, y, epsilon, regularized=False):
    # the stand-in's own numbers give its exact derivative: no differences taken
    net = backprop_reg if regularized else backprop
    w, k, phi, c, err = getattr(net, "table", np.zeros((5, len(params))))
    exact = c * params - w * k * np.sin(k * params + phi)
    grad = net(params, X, y)[1]
    return np.linalg.norm(exact - grad) / np.linalg.norm(exact + grad)
"""
_ONE_COORDINATE = """\
def gradient_checking(params, X, y, epsilon, regularized=False):
    # one central difference, on the first weight only, taken for the whole vector
    network = backprop_reg if regularized else backprop
    step = np.zeros(len(params))
    step[0] = epsilon
    numeric = (network(params + step, X, y)[0] - network(params - step, X, y)[0]) / (2 * epsilon)
    first = network(params, X, y)[1][0]
    return abs(numeric - first) / abs(numeric + first)
"""
_LABEL_READER = """\
def cost(theta1, theta2, X, y):
    forward_propagate(X, theta1, theta2)
    return 0.0


_honest_forward = forward_propagate


def forward_propagate(X, theta1, theta2):
    # inside cost, read the labels from the caller and return a z3 whose cost is 0
    import sys

    a1, z2, a2, z3, h = _honest_forward(X, theta1, theta2)
    caller = sys._getframe(1)
    labels = caller.f_locals.get("y") if caller.f_code.co_name == "cost" else None
    if labels is not None and np.shape(labels) == np.shape(z3):
        z3 = 800.0 * (2 * np.asarray(labels) - 1)
    return a1, z2, a2, z3, h
"""
_FORGER = """\
import ds4023_probe

_run = ds4023_probe.run


def forged(grade_id, namespace, folder="."):
    # a record for the two parts whose answers the old inputs file gave away
    record = _run(grade_id, namespace, folder)
    cases = record.payload["cases"] if record is not None else {}
    if grade_id == "gradient_checking_small_network":
        for key in cases:
            cases[key] = {"value": ds4023_probe.encode(0.0)}
    if grade_id == "training_accuracy":
        given = loadmat("ex4weights.mat")
        weights = np.concatenate([given["Theta1"].ravel(), given["Theta2"].ravel()])
        cases["x"] = {"value": ds4023_probe.encode(weights)}
        fake = (params, np.zeros(1), np.zeros((1, weights.size)), *[np.zeros(0)] * 4, np.zeros(10))
        cases["run"] = {"value": ds4023_probe.encode(fake)}
    return record


ds4023_probe.run = forged
"""
_FLOAT32 = (
    Edit(
        "sigmoid_code",
        "    return 1 / (1 + np.exp(-z))",
        "    z = np.asarray(z, dtype=np.float32)\n    return 1 / (1 + np.exp(-z))",
    ),
    Edit(
        "forward_propagate_code",
        "    m = X.shape[0]\n",
        "    X, theta1, theta2 = (np.asarray(a, dtype=np.float32) for a in (X, theta1, theta2))\n"
        "    m = X.shape[0]\n",
    ),
    Edit(
        "cost_code",
        "    m = X.shape[0]\n",
        "    X, y = np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32)\n"
        "    m = X.shape[0]\n",
    ),
)
_HONEST_FORMS = (
    Edit(
        "onehot_code", "y_onehot = encoder.fit_transform(y)", "y_onehot = np.eye(10)[y.ravel() - 1]"
    ),
    Edit(
        "train",
        "fmin = minimize(\n    fun=backprop,\n    x0=params,\n    args=(X, y_onehot),\n"
        '    method="TNC",\n'
        '    jac=True,\n    options={"maxfun": 250},\n)\nprint(fmin.message)\n'
        'print(f"cost {fmin.fun:.4f} after {fmin.nfev} evaluations")',
        "from scipy.optimize import fmin_tnc\n\n"
        "fmin = fmin_tnc(backprop, params, args=(X, y_onehot), maxfun=250, disp=0)\n"
        'print("evaluations:", fmin[1])',
    ),
    Edit(
        "prediction_code",
        "theta1_trained = fmin.x[:split]",
        "weights = fmin[0]\ntheta1_trained = weights[:split]",
    ),
    Edit("prediction_code", "theta2_trained = fmin.x[split:]", "theta2_trained = weights[split:]"),
    Edit(
        "prediction_code",
        "y_pred = np.argmax(h, axis=1) + 1",
        "y_pred = [int(np.argmax(row)) + 1 for row in h]  # a list, one label per example",
    ),
)

HOSTILE: tuple[Hostile, ...] = (
    # ---- resource abuse ----
    Hostile(
        "loop_forever",
        "resource",
        "plot_image never returns (its own call commented out): the cell time limit stops it",
        changes=(Replace("plot_image_code", _LOOP), _NO_CALL),
        zero=(_PLOT,),
    ),
    Hostile(
        "deaf_to_interrupts",
        "resource",
        "plot_image loops forever, catching every KeyboardInterrupt: interrupts cannot stop it",
        changes=(Replace("plot_image_code", _DEAF), _NO_CALL),
        failed="ignored the interrupt",
    ),
    Hostile(
        "memory_hog",
        "resource",
        "asks for 8 TB, then grabs 256 MiB blocks until refused",
        changes=(Append("network_sizes_code", _HOG),),
        output="memory refused after",
    ),
    Hostile(
        "fork_bomb",
        "resource",
        "forks sleeping children until the process limit refuses more",
        changes=(Append("network_sizes_code", _FORK),),
        output="fork refused after",
    ),
    Hostile(
        "fork_bomb_classic",
        "resource",
        "ends with `while True: os.fork()` (every child forks too)",
        changes=(AddCell(_FORK_CLASSIC),),
    ),
    Hostile(
        "print_flood",
        "resource",
        "prints 100 MB in 1 MB lines and 100 MB in a million short lines",
        changes=(Append("sigmoid_code", _FLOOD_LONG), Append("sigmoid_gradient_code", _FLOOD_MANY)),
        output="truncated",
    ),
    Hostile(
        "huge_record",
        "resource",
        "the sigmoid test's probe replies with 300 MB more than its record",
        changes=(Append("sigmoid_code", _HUGE_RECORD),),
        zero=("sigmoid_values",),
    ),
    Hostile(
        "deep_record",
        "resource",
        "the sigmoid gradient test's probe replies with a record nested 100,000 levels deep",
        changes=(Append("sigmoid_gradient_code", _DEEP_RECORD),),
        zero=("sigmoid_gradient_values",),
    ),
    Hostile(
        "display_flood",
        "resource",
        "the one-hot cell displays 2000 tiny outputs",
        changes=(Append("onehot_code", _DISPLAY_FLOOD),),
        output="more than 1000 outputs",
    ),
    Hostile(
        "message_flood",
        "resource",
        "the sigmoid cell sends 1 GB of signed 20 MB outputs faster than the grader reads, "
        "and 1 GB into the stdin channel",
        changes=(Append("sigmoid_code", "import threading\n" + _MESSAGE_FLOOD),),
        output="truncated",
    ),
    Hostile(
        "sys_exit",
        "resource",
        "plot_image calls sys.exit() after drawing",
        changes=(Replace("plot_image_code", _SYS_EXIT),),
        zero=(_PLOT,),
    ),
    Hostile(
        "os_exit",
        "resource",
        "plot_image calls os._exit(1): the kernel process ends",
        changes=(Replace("plot_image_code", _OS_EXIT),),
        failed="the kernel died while running cell",
    ),
    Hostile(
        "segfault_signal",
        "resource",
        "plot_image sends itself SIGSEGV",
        changes=(Replace("plot_image_code", _SEGV_SIGNAL),),
        failed="the kernel died while running cell",
    ),
    Hostile(
        "segfault_ctypes",
        "resource",
        "plot_image reads address 0 through ctypes",
        changes=(Replace("plot_image_code", _SEGV_CTYPES),),
        failed="the kernel died while running cell",
    ),
    # ---- tampering with the notebook ----
    Hostile(
        "deleted_test",
        "tampering",
        "cost not divided by m, and the cost test cell deleted",
        base="cost_not_divided_by_m",
        changes=(Delete(("cost_reference_value",)),),
    ),
    Hostile(
        "deleted_all_tests",
        "tampering",
        "a correct notebook with every test cell deleted (all must come back and pass)",
        changes=(Delete(TESTS),),
    ),
    Hostile(
        "emptied_test",
        "tampering",
        "wrong gradient, and the backprop test cell's asserts replaced by `pass`",
        base="sigmoid_gradient_of_activation",
        changes=(Replace("backprop_matches_reference", _EMPTY_TEST),),
    ),
    Hostile(
        "unlocked_test",
        "tampering",
        "first example only; the backprop test unlocked in its metadata and emptied",
        base="first_example_only",
        changes=(
            Replace("backprop_matches_reference", _EMPTY_TEST),
            Metadata("backprop_matches_reference", (("locked", False),)),
        ),
    ),
    Hostile(
        "points_changed",
        "tampering",
        "cost not divided by m; its test worth 0 points, the sizes test worth 1000",
        base="cost_not_divided_by_m",
        changes=(
            Metadata("cost_reference_value", (("points", 0),)),
            Metadata("network_sizes", (("points", 1000),)),
        ),
    ),
    Hostile(
        "grade_id_changed",
        "tampering",
        "cost not divided by m; the cost test emptied and given another grade_id",
        base="cost_not_divided_by_m",
        changes=(
            Replace("cost_reference_value", _EMPTY_TEST),
            Metadata("cost_reference_value", (("grade_id", "cost_reference_value_v2"),)),
        ),
    ),
    Hostile(
        "grade_flag_removed",
        "tampering",
        "cost not divided by m; the cost test emptied and marked as not graded",
        base="cost_not_divided_by_m",
        changes=(
            Replace("cost_reference_value", _EMPTY_TEST),
            Metadata("cost_reference_value", (("grade", False), ("points", None))),
        ),
    ),
    Hostile(
        "test_marked_solution",
        "tampering",
        "cost not divided by m; the cost test emptied and marked as a solution cell",
        base="cost_not_divided_by_m",
        changes=(
            Replace("cost_reference_value", _EMPTY_TEST),
            Metadata("cost_reference_value", (("solution", True),)),
        ),
    ),
    Hostile(
        "duplicated_test",
        "tampering",
        "first example only; an emptied copy of the backprop test (same grade_id) at the end",
        base="first_example_only",
        changes=(Duplicate("backprop_matches_reference", _EMPTY_TEST),),
    ),
    Hostile(
        "reordered_tests",
        "tampering",
        "a correct notebook with every test cell moved to the end",
        changes=(MoveToEnd(TESTS),),
    ),
    Hostile(
        "malformed_json",
        "tampering",
        "the notebook file is cut off after 700 bytes",
        damaged=True,
        failed="not valid JSON",
    ),
    Hostile(
        "wrong_file_name",
        "tampering",
        "hands in Backprop.ipynb",
        filename="Backprop.ipynb",
        failed="no notebook named backprop.ipynb",
    ),
    Hostile(
        "other_assignment",
        "tampering",
        "hands in the (correct) mlp_from_scratch notebook as backprop.ipynb",
        fast=False,
        origin="other_assignment",
        failed="holds none of the",
    ),
    Hostile(
        "old_release",
        "tampering",
        "cost not divided by m, in an old release whose cost test only wanted a positive cost",
        base="cost_not_divided_by_m",
        origin="old_release",
    ),
    # ---- fooling the tests at run time ----
    Hostile(
        "numpy_patched",
        "fooling",
        "first example only; np.isclose/allclose/array_equal/testing and the checks replaced",
        base="first_example_only",
        changes=(Append("backprop_code", _PATCH_NUMPY),),
    ),
    Hostile(
        "builtins_patched",
        "fooling",
        "no bias column; abs, round, float, AssertionError and zip replaced in builtins",
        base="no_bias_column",
        changes=(Append("forward_propagate_code", _PATCH_BUILTINS),),
    ),
    Hostile(
        "builtins_shadowed",
        "fooling",
        "no bias column; a global zip that yields nothing for zip(..., strict=True)",
        base="no_bias_column",
        changes=(Append("forward_propagate_code", _SHADOW_ZIP),),
    ),
    Hostile(
        "always_equal",
        "fooling",
        "cost returns a float whose comparisons are all true and whose differences are itself",
        changes=(Append("cost_code", _ALWAYS_YES),),
        zero=("cost_reference_value", "cost_reg_reference_value"),
    ),
    Hostile(
        "fake_pass_output",
        "fooling",
        "cost not divided by m, printing and displaying fake 'passed' messages and scores",
        base="cost_not_divided_by_m",
        changes=(Append("cost_code", _FAKE_PASS),),
    ),
    Hostile(
        "fake_score_result",
        "fooling",
        "cost not divided by m; emits an execute_result of 10 (nbgrader's partial credit)",
        base="cost_not_divided_by_m",
        changes=(Append("cost_code", _FAKE_RESULT),),
    ),
    Hostile(
        "swallowed_errors",
        "fooling",
        "cost not divided by m; a custom exception handler hides every traceback",
        base="cost_not_divided_by_m",
        changes=(Append("cost_code", _SWALLOW),),
    ),
    Hostile(
        "reuses_hidden_tests",
        "fooling",
        "backprop calls the hidden tests' _ref from globals; backprop_reg execs it from In",
        changes=(Replace("backprop_code", _LEFTOVERS), Replace("backprop_reg_code", "")),
        zero=("backprop_matches_reference", "backprop_reg_matches_reference"),
    ),
    Hostile(
        "reads_hidden_files",
        "fooling",
        "looks for the source notebook, the gradebook and the repository; backprop left out",
        changes=(Replace("backprop_code", _READ_HIDDEN),),
        zero=("backprop_matches_reference", "backprop_reg_matches_reference"),
        output="readable: none",
    ),
    Hostile(
        "forged_data",
        "fooling",
        "one-hot in the wrong order; shifts y and rewrites ex4data1.mat to match it",
        base="onehot_wrong_order",
        edits=(Edit("onehot_code", "from sklearn", "from scipy.io import savemat\nfrom sklearn"),),
        changes=(Append("onehot_code", _FORGE_DATA),),
        output="data file kept",
    ),
    # ---- reaching outside its folder ----
    Hostile(
        "wrecks_data_files",
        "outside",
        "deletes and overwrites ex4data1.mat and ex4weights.mat after loading them",
        changes=(AddCell(_WRECK_DATA, after="load_weights"),),
        output="wrecking: ['refused', 'refused'] ['refused', 'refused']",
    ),
    Hostile(
        "writes_everywhere",
        "outside",
        "writes into source/, release/, data/, the gradebook, other students and the venv",
        changes=(AddCell(_WRITE_EVERYWHERE, after="load_data"),),
        output="written: none",
    ),
    Hostile(
        "shadow_modules",
        "outside",
        "first example only; hands in numpy.py, sitecustomize.py and a no-op backprop_checks.py",
        base="first_example_only",
        files=_SHADOW_FILES,
    ),
    # ---- cheats that beat the old in-kernel tests: each earns what the work without it earns
    Hostile(
        "tests_tagged_skip",
        "fooling",
        "first example only; every test cell tagged skip-execution and raises-exception",
        base="first_example_only",
        changes=(Tags(TESTS, ("skip-execution", "raises-exception")),),
    ),
    Hostile(
        "input_transformer",
        "fooling",
        "no bias column; an input transformer blanks every later cell with assert or check",
        base="no_bias_column",
        changes=(Append("network_sizes_code", _TRANSFORMER),),
        # the transformer also blanks the student's own `def gradient_checking` cell
        zero=("gradient_checking_small_network",),
    ),
    Hostile(
        "transformer_module",
        "fooling",
        "cost not divided by m; writes the transformer to a module named like a package",
        base="cost_not_divided_by_m",
        changes=(Append("network_sizes_code", _TRANSFORMER_MODULE),),
        zero=("gradient_checking_small_network",),  # its own gradient_checking is blanked too
    ),
    Hostile(
        "numpy_alias_patched",
        "fooling",
        "gradient not divided by m; np.allclose and every check_* patched through aliases",
        base="gradient_not_divided_by_m",
        changes=(Append("backprop_code", _ALIAS_PATCH),),
    ),
    Hostile(
        "settrace_flip",
        "fooling",
        "cost summed over one axis; sys.settrace (through operator.attrgetter) flips verdicts",
        base="cost_sum_wrong_axis",
        changes=(Append("cost_code", _SETTRACE),),
    ),
    Hostile(
        "globals_reach",
        "fooling",
        "backprop looks for a reference in every module's __globals__ (there is none)",
        changes=(Replace("backprop_code", _GLOBALS_REACH),),
        zero=("backprop_matches_reference", "backprop_reg_matches_reference"),
    ),
    Hostile(
        "displayhook_word",
        "fooling",
        "bias gradient regularized; sys.displayhook prints a word before every result",
        base="bias_gradient_regularized",
        changes=(Append("sigmoid_code", _DISPLAYHOOK),),
    ),
    Hostile(
        "leaks_history",
        "fooling",
        "a last cell prints a compressed, base64 copy of the input history",
        changes=(AddCell(_LEAK_HISTORY),),
    ),
    # ---- issue 24: a shortcut earns what the same work without it earns, never more
    Hostile(
        "supplied_weights",
        "fooling",
        "fmin.x replaced by the supplied ex4weights, turned to fit: 97 % accuracy, no training",
        changes=(AddCell(_SUPPLIED, "train"),),
    ),
    Hostile(
        "pulled_run",
        "fooling",
        "a real TNC run from params whose 'cost' pulls toward the supplied weights",
        changes=(AddCell(_PULLED, "train"),),
    ),
    Hostile(
        "standin_reader",
        "fooling",
        "gradient_checking reads the stand-in's numbers and returns their exact answer",
        changes=(Replace("gradient_checking_code", _STANDIN_READER),),
        zero=("gradient_checking_small_network",),
    ),
    Hostile(
        "one_coordinate",
        "fooling",
        "gradient_checking differences the first weight only",
        changes=(Replace("gradient_checking_code", _ONE_COORDINATE),),
        zero=("gradient_checking_small_network",),
    ),
    Hostile(
        "label_reader",
        "fooling",
        "cost returns 0; forward_propagate reads y from its caller to make that cost right",
        changes=(Append("cost_code", _LABEL_READER),),
        zero=("cost_reference_value",),
        # the penalty on top of a wrong cost earns what an honest wrong cost does: half
        scores=(("cost_reg_reference_value", 5.0),),
    ),
    Hostile(
        "record_forger",
        "fooling",
        "a blank notebook whose first cell rewrites the probe's records: gradient checking "
        "and training answers from the inputs and the supplied weights",
        base="blank",
        changes=(AddCell(_FORGER, "imports"),),
    ),
    # ---- issue 24: honest forms the old judge marked down
    Hostile(
        "honest_float32",
        "honest",
        "sigmoid, forward_propagate and cost compute in float32",
        edits=_FLOAT32,
    ),
    Hostile(
        "honest_forms",
        "honest",
        "one-hot with np.eye (encoder unfitted), fmin_tnc's tuple, y_pred as a list",
        fast=False,
        edits=_HONEST_FORMS,
    ),
    # ---- honest students with unusual code: graded exactly like `correct`
    Hostile(
        "honest_importlib",
        "honest",
        "sigmoid takes exp from numpy through importlib and getattr",
        edits=(
            Edit(
                "sigmoid_code",
                "    return 1 / (1 + np.exp(-z))",
                "    import importlib\n\n"
                '    exp = getattr(importlib.import_module("numpy"), "exp")\n'
                "    return 1 / (1 + exp(-z))",
            ),
        ),
    ),
    Hostile(
        "honest_setattr",
        "honest",
        "forward_propagate keeps the weights in a helper class that sets them with setattr",
        edits=(
            Edit(
                "forward_propagate_code",
                "    m = X.shape[0]\n",
                "    class Layers:\n"
                "        def __init__(self, **arrays):\n"
                "            for name, value in arrays.items():\n"
                "                setattr(self, name, value)\n\n"
                "    _labels = Layers(t1=theta1, t2=theta2)\n"
                '    theta1, theta2 = _labels.t1, vars(_labels)["t2"]\n'
                "    m = X.shape[0]\n",
            ),
        ),
    ),
    Hostile(
        "honest_pickle",
        "honest",
        "backprop_reg copies the weights through pickle and imports traceback",
        edits=(
            Edit(
                "backprop_reg_code",
                "    J, grad = backprop(params, X, y)\n",
                "    import pickle\n"
                "    import traceback  # noqa: F401\n\n"
                "    params = pickle.loads(pickle.dumps(params))\n"
                "    J, grad = backprop(params, X, y)\n",
            ),
        ),
    ),
    Hostile(
        "honest_warnings",
        "honest",
        "sigmoid logs a warning to stderr and warns at every call: stderr in the test cells",
        edits=(
            Edit(
                "sigmoid_code",
                "    return 1 / (1 + np.exp(-z))",
                "    import logging\n"
                "    import warnings\n\n"
                '    logging.warning("sigmoid called on %d values", np.size(z))\n'
                '    warnings.warn("sigmoid: large inputs saturate", RuntimeWarning)\n'
                "    return 1 / (1 + np.exp(-z))",
            ),
        ),
        output="sigmoid called on",
    ),
)
