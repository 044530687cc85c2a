"""What every checking module of the course shares: how a check fails, and fingerprints.

A copy of this file sits beside each notebook that has a checking module (``make release``
writes it from ``ds4023/checks_core.py``, the one copy to edit). A check either passes and
shows nothing, or stops its test cell with one message, shown once and alone: no traceback
through the checking code, nothing printed. What your functions print while a check runs
them is not shown. The grader restores this file from the course's copy: editing it changes
nothing.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings

import numpy as np


class Mistake(AssertionError):
    """A check found a problem; the text says which one and where to look."""


class CheckFailed(AssertionError):
    """What a failing check raises: its message, which IPython shows alone, on one line."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def unwritten(err: BaseException) -> str | None:
    """'<name> is not written yet: ...' when ``err`` comes out of a notebook stub, else None."""
    if not isinstance(err, NotImplementedError) or err.__traceback__ is None:
        return None
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    if tb.tb_frame.f_globals.get("__name__") != "__main__":  # not raised in the notebook
        return None
    name = tb.tb_frame.f_code.co_qualname
    return f"{name} is not written yet: replace `raise NotImplementedError()` with your code."


def check(body):
    """Make ``body`` a check: silent when it passes, one ``CheckFailed`` message when not."""

    @functools.wraps(body)
    def run(*args, **kwargs):
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    body(*args, **kwargs)
            return
        except Mistake as found:
            text = str(found)
        except NotImplementedError as err:
            text = unwritten(err)
            if text is None:
                raise
        raise CheckFailed(text) from None

    return run


def fingerprint(values) -> np.ndarray:
    """Three fixed weighted sums of all the entries of ``values`` (read row by row)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    i = np.arange(1, flat.size + 1)
    return np.array([np.cos(i * c) @ flat for c in (0.731, 1.618, 2.414)])


#: Relative tolerance of a comparison by default: equal up to float64 rounding. An assignment
#: whose notebook allows float32 passes its own, looser one (backprop: 5e-5, as its grader).
RTOL = 1e-9


def matches(values, stored, rtol: float = RTOL) -> bool:
    """Does ``values`` have the fingerprint ``stored`` (to ``rtol``, relative to its size)?"""
    try:
        flat = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if flat.size == 0 or not np.all(np.isfinite(flat)):
        return False
    gap = np.abs(fingerprint(flat) - np.array(stored))
    return bool(np.all(gap <= rtol * (1.0 + np.abs(flat).sum())))


def array(value, name: str) -> np.ndarray:
    """``value`` as an array of floats, or a Mistake saying it is not numbers."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mistake(f"{name} should be numbers, got {type(value).__name__}.") from None


def close(a, b, rtol: float = RTOL) -> bool:
    """Same shape and equal within ``rtol`` (relative; at 1e-9 also 1e-12 absolute)?"""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=1e-3 * rtol))


@contextlib.contextmanager
def watching(ns: dict, functions, user: str, cls=None, methods=()):
    """Record, in the list it yields, which building blocks get called inside the block.

    Args:
        ns: the notebook's namespace; its ``functions`` are wrapped for the block.
        functions: names of the notebook's functions to watch.
        user: the function under check (never watched: it is the one being run).
        cls: a class whose ``methods`` are watched too, or None.
        methods: names of methods of ``cls`` to watch.
    """
    called: list[str] = []

    def spy(name, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if name not in called:
                called.append(name)
            return fn(*args, **kwargs)

        return wrapper

    saved = {n: ns[n] for n in functions if n != user and callable(ns.get(n))}
    own = {} if cls is None else {n: cls.__dict__[n] for n in methods if n in cls.__dict__}
    own.pop(user, None)
    for name, fn in saved.items():
        ns[name] = spy(name, fn)
    for name, fn in own.items():
        setattr(cls, name, spy(name, fn))
    try:
        yield called
    finally:
        ns.update(saved)
        for name, fn in own.items():
            setattr(cls, name, fn)


def problem(diagnose, *args) -> str | None:
    """The message ``diagnose(*args)`` stops with, or None (right, or failing otherwise)."""
    try:
        diagnose(*args)
    except Mistake as found:
        return str(found)
    except Exception:
        return None
    return None


def blame(user: str, called: list[str], suspects) -> str | None:
    """A problem in a building block that ``user`` called, as a message naming both.

    Args:
        user: the function under check.
        called: what it called (from :func:`watching`).
        suspects: ``(name, diagnose, *args)`` for each building block, most basic first.

    Returns:
        The first called block's problem, or None.
    """
    for name, diagnose, *args in suspects:
        if name in called and name != user:
            text = problem(diagnose, *args)
            if text:
                return f"{user} relies on {name}, and {name} has a problem: {text}"
    return None


def run_blaming(user: str, call, watch, suspects):
    """``call()`` inside ``watch``; if it fails, blame a faulty building block it used.

    Args:
        user: the name of the function ``call`` runs.
        call: runs it, without arguments.
        watch: a :func:`watching` block (it may set up more around it).
        suspects: gives the ``suspects`` of :func:`blame`, called only after a failure.

    Returns:
        ``(result, called)``.

    Raises:
        Mistake: a building block it used has a problem; else what ``call`` raised.
    """
    with watch as called:
        try:
            return call(), called
        except Exception as err:
            failure = err
    text = blame(user, called, suspects())
    if text:
        raise Mistake(text) from None
    raise failure


def shapes(got: dict, want: dict, transposed: str, setting: str) -> None:
    """Stop when an array of ``got`` does not have the shape ``want`` gives for its name.

    Args:
        got: name -> the array a function returned.
        want: name -> the shape it should have.
        transposed: the message when an array has its shape reversed.
        setting: the problem's sizes, to start the message about another shape with.

    Raises:
        Mistake: a shape is wrong.
    """
    if any(got[k].shape != want[k] and got[k].shape == want[k][::-1] for k in want):
        raise Mistake(transposed)
    for k in want:
        if got[k].shape != want[k]:
            raise Mistake(f"{setting}, {k} should have the shape {want[k]}, not {got[k].shape}.")


def sigmoid_slope(name: str, got, z, right: bool, of_activation: str, g: str, blamed=None) -> None:
    """Stop unless ``got``, what ``name`` gave for the net inputs ``z``, is g(z) (1 - g(z)).

    Args:
        name: the function checked.
        got: its values for ``z``, as an array.
        z: the net inputs it was given.
        right: whether ``got`` has the right values (the assignment's fingerprint says).
        of_activation: the message when it computed z (1 - z), taking z for g(z).
        g: the sigmoid's name in the assignment's text.
        blamed: gives a building block's problem to report instead of a plain "wrong", or None.

    Raises:
        Mistake: the shape is not z's, the known mistake, or another wrong value.
    """
    if got.shape != z.shape:
        raise Mistake(f"{name} must keep the shape of its input {z.shape}, got {got.shape}.")
    if right:
        return
    if close(got, z * (1 - z)):
        raise Mistake(of_activation)
    wrong = f"{name}(z) is not {g}(z) (1 - {g}(z)) for every entry of z."
    raise Mistake((blamed and blamed()) or wrong)


def not_defined_yet(err: BaseException) -> str | None:
    """'<name> is not defined yet: ...' for a NameError in a notebook cell itself, else None.

    A test cell that names a variable or function whose cell has not run (``y_onehot``,
    ``input_size``) stops with this one line instead of a traceback; a NameError inside a
    function keeps its traceback (it shows the line to fix).
    """
    if not isinstance(err, NameError) or err.__traceback__ is None:
        return None
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    if frame.f_globals.get("__name__") != "__main__" or frame.f_code.co_name != "<module>":
        return None
    name = getattr(err, "name", None) or str(err)
    return (
        f"{name} is not defined yet: run the cell above that defines it (Run > Run All Above "
        "Selected Cell runs them all), or write it there first."
    )


def _name_error_in_one_line(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for NameError: one line (still an error output), or the usual one."""
    line = not_defined_yet(value)
    if line is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    else:
        shell._showtraceback(etype, value, [f"NameError: {line}"])  # the kernel's error output


def _install_name_hint() -> None:
    """Show a not-yet-defined name in one line in this notebook (no other handler replaced)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and not shell.custom_exceptions:
        shell.set_custom_exc((NameError,), _name_error_in_one_line)


_install_name_hint()
