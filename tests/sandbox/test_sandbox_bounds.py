"""Bounds on what a task can make the trainer spend: records, deadlines, channels."""

from __future__ import annotations

import time
import tracemalloc

import pytest

import stepreward as sr
from stepreward._jsonlimits import json_shape, loads_bounded

# A task writes its own record on fd 3 and ends before the reporter adds the real one.
FORGE_VALUE = (
    "import os, struct\n"
    "body = b'{{\"status\":\"ok\",\"value\":[' + b'[],' * {n} + b'[]]}}'\n"
    "os.write(3, b'SRR1' + struct.pack('>Q', len(body)) + body)\n"
    "os._exit(0)\n"
)


def test_json_shape_counts_values_outside_strings_and_depth() -> None:
    assert json_shape(b'["a,b,c:[{", 1]', max_items=3) is None
    assert json_shape(b'["a\\"b,c", 1]', max_items=3) is None
    assert json_shape(b"[" + b"[]," * 100 + b"[]]", max_items=50) is not None
    assert json_shape(b"[" * 20 + b"]" * 20, max_items=100, max_depth=19) == \
        "nested deeper than 19"
    assert json_shape(b"[" * 20 + b'"]]]"' + b"]" * 20, max_items=100, max_depth=20) is None
    # Linear where a pattern that skips escapes would retry from every escaped quote.
    t0 = time.perf_counter()
    assert json_shape(b'"' + b'\\"' * 2_000_000, max_items=10) is None
    assert time.perf_counter() - t0 < 5
    with pytest.raises(ValueError, match="over the bounds"):
        loads_bounded("[" * 600 + "]" * 600, max_items=10_000)


def test_a_forged_record_of_small_containers_is_refused_before_decoding() -> None:
    """4 MiB of ``[],`` decoded would cost the trainer ~300 MiB and seconds of GIL."""
    code = FORGE_VALUE.format(n=1_400_000)
    with sr.Sandbox(workers=1) as sb:
        tracemalloc.start()
        try:
            r = sb.call("stepreward.trace._child:eval_call", {"source": code, "call": "1"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.status == "crashed" and r.value is None, r.reason
    assert "over the job's limits" in (r.reason or "")
    assert peak < 64 << 20, peak


def test_a_plain_program_record_is_capped_at_what_it_needs() -> None:
    """``Sandbox.run`` reports a status and an error: 64 KiB, whatever max_result_bytes says."""
    code = FORGE_VALUE.format(n=40_000)  # 120 KiB
    with sr.Sandbox(workers=1) as sb:
        r = sb.run(code)
    assert r.status == "crashed" and r.value is None
    assert "over the job's limit of 65536 bytes" in (r.reason or ""), r.reason


def test_the_progress_deadline_is_enforced_outside_the_task() -> None:
    """A task that blocks SIGALRM (or any timer of its own) and loops is killed by the
    template ``progress_timeout_s`` after its last report, not at the job's ``timeout_s``."""
    code = ("import signal\n"
            "def f(x):\n"
            "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
            "    while True:\n"
            "        pass\n")
    payload = {"code": code, "fn_name": "f", "timeout_s": 0.3,
               "cases": [[[i], None] for i in range(4)]}
    with sr.Sandbox(workers=1) as sb:
        t0 = time.monotonic()
        r = sb.call("stepreward.codegen._child:run_call_tests", payload,
                    limits=sr.Limits(timeout_s=20, progress_timeout_s=1.0))
        took = time.monotonic() - t0
        assert r.status == "timeout", r
        assert took < 4, took
        # An honest task that reports progress runs past the progress deadline in all.
        slow = ("import time\n"
                "def f(x):\n"
                "    time.sleep(0.4)\n"
                "    return x\n")
        r = sb.call("stepreward.codegen._child:run_call_tests",
                    {**payload, "code": slow, "timeout_s": 1.0},
                    limits=sr.Limits(timeout_s=20, progress_timeout_s=0.8))
        assert r.status == "ok" and [x[0] for x in r.value["results"]] == ["ok"] * 4, r


def test_channels_cannot_be_grown_outside_the_memory_limit() -> None:
    """stdout, stderr, the result channel and stdin pin no shared memory a task can grow."""
    code = ("import os\n"
            "grown = []\n"
            "for fd in (0, 1, 2, 3):\n"
            "    try:\n"
            "        os.posix_fallocate(fd, 0, 16 << 20)\n"
            "        grown.append(fd)\n"
            "    except OSError:\n"
            "        pass\n"
            "    try:\n"
            "        os.ftruncate(fd, 16 << 20)\n"
            "        grown.append(fd)\n"
            "    except OSError:\n"
            "        pass\n"
            "print(grown)\n")
    with sr.Sandbox(workers=1) as sb:
        r = sb.run(code, stdin="some input", limits=sr.Limits(memory_mb=64))
        assert r.status == "ok" and r.stdout == "[]\n", r
        # A flood is cut where it passes the cap, not when the task is done writing.
        t0 = time.monotonic()
        r = sb.run("import os\nwhile True:\n    os.write(1, b'x' * 65536)\n",
                   limits=sr.Limits(timeout_s=10, max_output_bytes=100_000))
        assert r.status == "output_limit" and len(r.stdout) == 100_000, r.status
        assert time.monotonic() - t0 < 2


FORGE_TRACE = (
    "import os, json, struct\n"
    "def f():\n"
    "    lit = '[' + '[],' * {n} + '[]]'\n"
    "    value = {{'v': 1, 'status': 'ok', 'phase': None, 'truncated': False,\n"
    "             'truncated_reason': None, 'values': [['list', '[]', lit, False]],\n"
    "             'frames': [], 'steps': [], 'result': 0, 'exception': None}}\n"
    "    body = json.dumps({{'status': 'ok', 'value': value}}).encode()\n"
    "    os.write(3, b'SRR1' + struct.pack('>Q', len(body)) + body)\n"
    "    os._exit(0)\n"
)


@pytest.mark.parametrize("where", ["literal", "record"])
def test_a_forged_trace_is_refused_before_decoding(where: str) -> None:
    """A traced program that forges its tracer's record: 4 MiB of ``[],`` inside one value's
    literal text, or as 1.4 million value rows, is counted and refused, not decoded."""
    source = FORGE_TRACE.format(n=1_400_000)
    if where == "record":
        source = source.replace("'values': [['list', '[]', lit, False]]",
                                "'values': [[]] * 1_400_000")
    with sr.Sandbox(workers=1, limits=sr.Limits(timeout_s=20)) as sb:
        tracemalloc.start()
        try:
            t = sr.trace(source, "f()", sandbox=sb)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert t.status == "crashed", t.status
    assert "over the" in (t.reason or ""), t.reason
    assert peak < 96 << 20, peak
