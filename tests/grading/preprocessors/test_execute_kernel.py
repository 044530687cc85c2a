"""TrackedExecute against a real kernel whose code sends what no honest kernel sends.

Each notebook has a set-up cell, the hostile part, and a second probed test after it, so every
test checks both that the hostile part costs only itself and that the rest is still graded.
A probe here is any expression whose result shows the record MIME type; ``raw(name, blob)``
swaps a JSON string for raw bytes in the next message the kernel packs, which is how a
student's code can send JSON nested 10^5 deep (the kernel's own packer would refuse it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from traitlets.config import Config

from ds4023.grading.preprocessors.execute import TrackedExecute
from ds4023.sandbox import kernelspec, limits
from tests.helpers import COURSE_ROOT
from tests.helpers.nbgrader_cells import grade_cell, notebook, plain_cell

pytestmark = pytest.mark.timeout(300)

SETUP = """
import json
MIME = "application/vnd.ds4023.record+json"

class R:
    def __init__(self, payload):
        self.payload = payload

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {MIME: self.payload, "text/plain": "record"}

def raw(name, blob):
    session = get_ipython().kernel.session
    pack = session.pack
    def patched(obj):
        out = pack(obj)
        tag = json.dumps(name).encode()
        if tag in out:
            session.pack = pack
            out = out.replace(tag, blob)
        return out
    session.pack = patched
"""
DEEPER = "the hidden test's record is nested deeper than the grader reads"
SECOND = 'R({"v": 1, "grade_id": "t2", "cases": {"y": {"value": {"text": "ok"}}}})'


def probed(expression: str, grade_id: str):
    body = f"assert True\n### BEGIN HIDDEN TESTS\n{expression}\n### END HIDDEN TESTS"
    return grade_cell(body, grade_id)


def run(tmp_path, cells: list, config: Config | None = None, **traits):
    """Execute set-up, ``cells``, then the second probed test; return (nb, records)."""
    nb = notebook(plain_cell(SETUP), *cells, probed(SECOND, "t2"))
    resources = {"metadata": {"path": str(tmp_path)}}
    TrackedExecute(config=config or Config(), timeout=120, **traits).preprocess(nb, resources)
    return nb, resources["ds4023_records"]


def second_test_graded(records) -> bool:
    payload, why = records["t2"]
    return why == "" and payload["cases"]["y"]["value"]["text"] == "ok"


#: A cell that sends 100 stream messages of 20 MB on iopub and 100 more into the stdin
#: channel, far faster than the grader reads them: each is signed from the hash of a common
#: prefix and sent without a copy, so two gigabytes cost the kernel one buffer.
FLOOD = """
import threading
k = get_ipython().kernel
head = k.session.pack(k.session.msg("stream", {}, parent=k.get_parent())["header"])
par, meta = k.session.pack(k.get_parent()["header"]), b"{}"
prefix = b'{"name": "stdout", "text": "' + b"x" * 20_000_000
signer = k.session.auth.copy()
for part in (head, par, meta, prefix):
    signer.update(part)
done = threading.Event()

def send():
    for i in range(100):
        tail = b'%d"}' % i
        h = signer.copy()
        h.update(tail)
        frames = [b"stream", b"<IDS|MSG>", h.hexdigest().encode(), head, par, meta, prefix + tail]
        k.iopub_thread.socket.send_multipart(frames, copy=False)
    done.set()

k.iopub_thread.schedule(send)
done.wait()
for i in range(100):
    k.stdin_socket.send_multipart([*k._parent_ident["shell"], prefix], copy=False)
big = {"cases": {"x": {"value": {"text": "ok"}}}}
"""

#: Hostile records for :func:`measure`: the cells that arm the kernel, and the probe.
HUGE = {
    "flood": ([FLOOD], "R(big)"),
    "text_300mb": (['big = {"cases": {"x": {"value": {"text": "x" * 300_000_000}}}}'], "R(big)"),
    "lists_13m": (
        ['raw("@many@", b"[" + b"[]," * 13_000_000 + b"[]]")'],
        'R({"cases": {"x": {"value": {"seq": "@many@"}}}})',
    ),
}


def measure(folder: str, kind: str) -> None:
    """Print the grader's peak RSS growth (MiB) over a run with the ``HUGE[kind]`` record and
    the records' reasons (run in a fresh process: ``ru_maxrss`` only ever grows)."""
    import resource
    from pathlib import Path

    from tests.grading.preprocessors import test_execute_kernel as here

    small = plain_cell('big = {"cases": {"x": {"value": {"text": "x"}}}}')
    here.run(Path(folder), [small, probed("R(big)", "t1")])  # warm: the machinery is loaded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    arm, probe = HUGE[kind]
    _, records = here.run(Path(folder), [*map(plain_cell, arm), probed(probe, "t1")])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reasons = {k: why for k, (_, why) in records.items()}
    print(json.dumps({"growth_mib": (after - before) / 1024, "reasons": reasons}))


def measured(tmp_path, kind: str) -> dict:
    code = f"from {__name__} import measure; measure({str(tmp_path)!r}, {kind!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=COURSE_ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


LARGER = "the hidden test's record is larger than the grader reads"


def test_a_flood_of_large_messages_waits_in_the_grader_within_bounds(tmp_path):
    """4 GB in 20 MB messages, sent on iopub faster than the grader reads and into the stdin
    channel nbclient never reads: are both tests graded and does the grader grow by well under
    a gigabyte (its 128 MiB queue, stand-ins, the message being read; ZMQ queued them all)?"""
    got = measured(tmp_path, "flood")
    assert got["reasons"] == {"t1": "", "t2": ""}
    assert got["growth_mib"] < 1024, got


def test_a_300_mb_record_is_refused_for_its_test_and_read_no_further(tmp_path):
    """A record of 300 MB: does its test get "larger than the grader reads", the next test
    its record, and the grader grow by about the raw message only (it used to grow by
    858 MiB: a copy as bytes, one as str, the decoded objects, json.dumps)?"""
    got = measured(tmp_path, "text_300mb")
    assert got["reasons"] == {"t1": LARGER, "t2": ""}
    assert got["growth_mib"] < 1.3 * 300e6 / 2**20, got  # the raw message, held once


def test_a_record_of_millions_of_tiny_items_is_not_decoded(tmp_path):
    """39 MB of empty lists, under the byte limit (it used to grow the grader by 990 MiB of
    Python lists): is its test refused and the grader's growth a small multiple of 39 MB?"""
    got = measured(tmp_path, "lists_13m")
    assert got["reasons"] == {"t1": LARGER, "t2": ""}
    assert got["growth_mib"] < 150, got


def test_a_record_nested_100_000_deep_costs_only_its_test(tmp_path):
    """JSON nested 10^5 levels deep as a record's value (jupyter_client's json.loads raised
    RecursionError and the whole notebook failed): is only that test without a record?"""
    deep = probed('R({"cases": {"x": {"value": {"seq": "@deep@"}}}})', "t1")
    arm = plain_cell('raw("@deep@", b"[" * 100_000 + b"]" * 100_000)')
    nb, records = run(tmp_path, [arm, deep])
    assert records["t1"] == (None, DEEPER)
    assert second_test_graded(records)


def test_a_record_python_can_still_read_but_nested_past_the_limit_costs_only_its_test(tmp_path):
    """A record 900 levels deep (json reads it; our recursion would not): only that test?"""
    nest = plain_cell("d = []\nfor _ in range(900):\n    d = [d]")
    nb, records = run(tmp_path, [nest, probed('R({"cases": {"x": {"value": {"seq": d}}}})', "t1")])
    assert records["t1"] == (None, DEEPER)
    assert second_test_graded(records)


def test_a_deep_output_becomes_a_note_and_the_notebook_goes_on(tmp_path):
    """An output nested 10^5 deep on iopub: is it one line in its cell, the rest graded?"""
    show = plain_cell(
        'raw("@deep@", b"[" * 100_000 + b"]" * 100_000)\n'
        'display({"application/json": "@deep@", "text/plain": "deep"}, raw=True)\n'
        'print("after")'
    )
    nb, records = run(tmp_path, [show])
    texts = [o.get("text", "") for o in nb.cells[1].outputs]
    note = "output truncated by the grader: it did not read a message nested more than 100"
    assert any(note in t for t in texts)
    assert any("after" in t for t in texts)
    assert second_test_graded(records)


def test_a_flood_of_tiny_outputs_is_capped_by_count_keeping_the_error(tmp_path):
    """5000 displays then an error, 100 outputs allowed: are 100 kept, the error too, and
    is the cut said once? (86,586 outputs used to make a 12 MB notebook.)"""
    flood = grade_cell("for i in range(5000):\n    display(i)\nraise ValueError('late')", "flood")
    nb, records = run(tmp_path, [flood], max_outputs=100)
    outs = nb.cells[1].outputs
    kinds = [o.output_type for o in outs]
    assert kinds.count("display_data") == 100 and kinds[-1] == "error"
    notes = [o.text for o in outs if o.output_type == "stream"]
    assert notes == ["\n... output truncated by the grader: more than 100 outputs ...\n"]
    assert second_test_graded(records)


class SlowReader(TrackedExecute):
    """A grader that reads each output slowly, as a busy 2-core machine does."""

    def output(self, outs, msg, display_id, cell_index):
        time.sleep(0.01)
        return super().output(outs, msg, display_id, cell_index)


def test_outputs_read_slower_than_iopub_timeout_still_grade_the_rest(tmp_path):
    """300 displays sent long before a slow grader has read them (3 s, iopub_timeout 1 s):
    is the cell read to the end and the later test graded? (Under load, the hostile corpus's
    2000 displays once made every test after the one-hot cell score 0.)"""
    flood = plain_cell("for i in range(300):\n    display(i)")
    nb = notebook(plain_cell(SETUP), flood, probed(SECOND, "t2"))
    resources = {"metadata": {"path": str(tmp_path)}}
    SlowReader(config=Config(), timeout=120, iopub_timeout=1).preprocess(nb, resources)
    assert [o.output_type for o in nb.cells[1].outputs].count("display_data") == 300
    assert second_test_graded(resources["ds4023_records"])


class StalledReader(TrackedExecute):
    """A grader that stalls for 10 s at a cell's first output (a busy machine), then reads."""

    def output(self, outs, msg, display_id, cell_index):
        if not outs:
            time.sleep(10)
        return super().output(outs, msg, display_id, cell_index)


def test_outputs_queued_past_zmq_default_mark_keep_the_cells_idle_status(tmp_path):
    """20,000 displays sent while the grader stalls: is the cell's closing status still read
    (ZMQ's default mark of 1000 queued messages dropped it) and the later test graded?"""
    flood = plain_cell("for i in range(20000):\n    display(i)")
    nb = notebook(plain_cell(SETUP), flood, probed(SECOND, "t2"))
    resources = {"metadata": {"path": str(tmp_path)}}
    StalledReader(config=Config(), timeout=120).preprocess(nb, resources)
    assert [o.output_type for o in nb.cells[1].outputs].count("display_data") == 1000
    assert second_test_graded(resources["ds4023_records"])


@pytest.mark.sandbox
@pytest.mark.skipif(limits.unavailable_reason() is not None, reason="no sandbox here")
def test_in_the_sandbox_a_huge_and_a_deep_record_cost_only_their_tests(tmp_path, monkeypatch):
    """Through the sandbox's ipc sockets, as grading runs: a 300 MB record and one nested 10^5
    deep, then an honest test: two reasons, one record?"""
    monkeypatch.setenv("JUPYTER_PATH", "")
    scratch = tmp_path / "scratch"
    folder = scratch / "autograded" / "s" / "a"
    folder.mkdir(parents=True)
    cfg = Config()
    name = kernelspec.configure(cfg, scratch, tmp_path / "jupyter", expose=())
    try:
        big = plain_cell('big = {"cases": {"x": {"value": {"text": "x" * 300_000_000}}}}')
        arm = plain_cell('raw("@deep@", b"[" * 100_000 + b"]" * 100_000)')
        deep = probed('R({"cases": {"x": {"value": {"seq": "@deep@"}}}})', "t3")
        cells = [big, probed("R(big)", "t1"), arm, deep]
        nb, records = run(folder, cells, config=cfg)
    finally:
        kernelspec.remove_kernelspec(tmp_path / "jupyter", name)
    assert records["t1"] == (None, "the hidden test's record is larger than the grader reads")
    assert records["t3"] == (None, DEEPER)
    assert second_test_graded(records)
