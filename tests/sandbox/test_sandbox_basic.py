"""Sandbox behaviour on ordinary programs, API contract and misuse."""

from __future__ import annotations

import asyncio
import json
import os
import threading

import pytest
from pydantic import ValidationError

import stepreward as sr


def test_prints_and_returns_ok(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("x = [i * i for i in range(5)]\nprint(sum(x))")
    assert r.status == "ok" and r.ok
    assert r.stdout == "30\n"
    assert r.stderr == "" and r.reason is None and r.exit_code == 0
    assert 0 < r.duration_s < 5


def test_stdin_is_fed_or_closed(sandbox: sr.Sandbox) -> None:
    assert sandbox.run("a, b = map(int, input().split())\nprint(a + b)", "3 4\n").stdout == "7\n"
    r = sandbox.run("input()")
    assert r.status == "error" and r.error_type == "EOFError"


def test_exception_is_error_with_type_message_and_traceback(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("def f(d):\n    return d['k']\nf({})")
    assert r.status == "error"
    assert r.error_type == "KeyError" and r.error_message == "'k'"
    assert "KeyError" in r.reason  # type: ignore[operator]
    assert 'File "<sandbox>", line 2, in f' in r.stderr


def test_syntax_error_is_error(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("def f(:\n    pass")
    assert r.status == "error" and r.error_type == "SyntaxError"
    assert "line 1" in r.error_message  # type: ignore[operator]


def test_nul_byte_in_code_is_error_not_crash(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("print(1)\x00")
    assert r.status == "error"


def test_sys_exit_codes(sandbox: sr.Sandbox) -> None:
    assert sandbox.run("import sys; print('a'); sys.exit(0)").status == "ok"
    r = sandbox.run("import sys; sys.exit(3)")
    assert r.status == "error" and r.error_type == "SystemExit" and r.error_message == "3"
    r = sandbox.run("raise SystemExit('bye')")
    assert r.status == "error" and "bye" in r.stderr


def test_dunder_main_and_fresh_state_per_task(sandbox: sr.Sandbox) -> None:
    code = ("if __name__ == '__main__':\n    import builtins\n    builtins.len = None\n"
            "    print('x')")
    assert sandbox.run(code).stdout == "x\n"
    # A task that poisoned a builtin must not affect the next one.
    assert sandbox.run("print(len([1, 2]))").stdout == "2\n"


def test_unicode_output_and_lone_surrogates(sandbox: sr.Sandbox) -> None:
    assert sandbox.run("print('héllo ✓')").stdout == "héllo ✓\n"
    r = sandbox.run("print('\\udcff')")
    assert r.status == "ok" and r.stdout.strip() != ""


def test_run_many_preserves_order(sandbox: sr.Sandbox) -> None:
    codes = [f"print({i} * 3)" for i in range(60)]
    results = sandbox.run_many(codes)
    assert [r.stdout for r in results] == [f"{i * 3}\n" for i in range(60)]


def test_run_many_stdin_per_program(sandbox: sr.Sandbox) -> None:
    rs = sandbox.run_many(["print(input()[::-1])"] * 3, stdin=["abc", "de", None])
    assert [r.stdout for r in rs[:2]] == ["cba\n", "ed\n"]
    assert rs[2].error_type == "EOFError"
    with pytest.raises(ValueError, match="stdin entries"):
        sandbox.run_many(["print(1)"], stdin=["a", "b"])


def test_run_from_many_threads(sandbox: sr.Sandbox) -> None:
    out: dict[int, str] = {}

    def work(i: int) -> None:
        out[i] = sandbox.run(f"print({i})").stdout

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {i: f"{i}\n" for i in range(16)}


def test_arun_from_asyncio(sandbox: sr.Sandbox) -> None:
    async def main() -> list[str]:
        rs = await asyncio.gather(*(sandbox.arun(f"print({i} + 1)") for i in range(8)))
        return [r.stdout for r in rs]

    assert asyncio.run(main()) == [f"{i + 1}\n" for i in range(8)]


def test_call_returns_json_value(sandbox: sr.Sandbox) -> None:
    r = sandbox.call("math:factorial", 10)
    assert r.status == "ok" and r.value == 3628800
    r = sandbox.call("json:loads", "[1, 2")
    assert r.status == "error" and r.error_type == "JSONDecodeError"


def test_per_call_limits_override(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("import time; time.sleep(0.5); print('done')",
                    limits=sr.Limits(timeout_s=0.1))
    assert r.status == "timeout"
    assert sandbox.run("import time; time.sleep(0.2); print('done')").stdout == "done\n"


def test_output_is_capped_and_flagged(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("print('y' * 5000)", limits=sr.Limits(max_output_bytes=1000))
    assert r.status == "output_limit" and r.stdout_truncated
    assert len(r.stdout) == 1000


def test_oversized_code_is_rejected_without_running(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("#" * 200, limits=sr.Limits(max_code_bytes=100))
    assert r.status == "rejected" and "limit" in r.reason  # type: ignore[operator]
    assert r.duration_s == 0.0


def test_result_round_trips_through_json(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("print('z')")
    again = sr.ExecResult.model_validate_json(r.model_dump_json())
    assert again == r
    assert json.loads(r.model_dump_json())["status"] == "ok"


def test_hash_seed_makes_set_order_deterministic() -> None:
    code = "print(hash('abc'), list({'pear', 'apple', 'fig', 'kiwi', 'plum'}))"
    with sr.Sandbox(workers=1, hash_seed=0) as a, sr.Sandbox(workers=1, hash_seed=0) as b:
        seed0 = a.run(code).stdout
        assert seed0 == b.run(code).stdout == a.run(code).stdout
    with sr.Sandbox(workers=1, hash_seed=1) as c:
        seed1 = c.run(code).stdout
    assert seed1.split()[0] != seed0.split()[0]


def test_not_preloaded_stdlib_module_fails_clearly_or_works(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("import sqlite3\nprint('imported')")
    if r.status == "ok":  # an interpreter the task uid can read
        assert r.stdout == "imported\n"
    else:
        assert r.error_type == "ModuleNotFoundError"
        assert "preload" in r.error_message  # type: ignore[operator]
    with sr.Sandbox(workers=1, preload=["sqlite3"]) as sb:
        assert sb.run("import sqlite3\nprint(sqlite3.sqlite_version_info[0])").stdout == "3\n"


def test_limits_validation() -> None:
    with pytest.raises(ValidationError):
        sr.Limits(timeout_s=0)
    with pytest.raises(ValidationError):
        sr.Limits(memory_mb=1)
    with pytest.raises(ValidationError):
        sr.Limits(timeout_s=True)
    with pytest.raises(ValidationError):
        sr.Limits(bogus=1)  # type: ignore[call-arg]
    lim = sr.Limits(timeout_s=1.5)
    assert hash(lim) == hash(sr.Limits(timeout_s=1.5))
    with pytest.raises(ValidationError):
        lim.timeout_s = 3  # type: ignore[misc]


def test_api_misuse_raises_clear_errors() -> None:
    with pytest.raises(ValueError, match="workers"):
        sr.Sandbox(workers=0)
    with pytest.raises(ValueError, match="limits"):
        sr.Sandbox(workers=1, limits={"timeout_s": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="isolation_mode"):
        sr.Sandbox(workers=1, isolation_mode="off")  # type: ignore[arg-type]
    sb = sr.Sandbox(workers=1)
    with pytest.raises(TypeError, match="code must be a str"):
        sb.run(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limits"):
        sb.run("print(1)", limits=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="module:function"):
        sb.call("math.factorial", 3)
    sb.close()
    sb.close()  # idempotent
    assert sb.closed
    with pytest.raises(RuntimeError, match="closed"):
        sb.run("print(1)")
    with pytest.raises(TypeError, match="pickled"):
        import pickle

        pickle.dumps(sb)


def test_require_unavailable_layer_raises() -> None:
    with pytest.raises(RuntimeError, match="required isolation"):
        sr.Sandbox(workers=1, require=("no-such-layer",))


def test_isolation_report(sandbox: sr.Sandbox) -> None:
    layers = set(sandbox.isolation)
    assert {"rlimits", "deadline", "workdir", "env"} <= layers
    if os.geteuid() == 0 and os.uname().machine == "x86_64":
        assert {"uid", "netns", "seccomp", "subreaper"} <= layers
        assert any(layer.startswith("landlock") for layer in layers)
    assert "Sandbox(workers=2" in repr(sandbox)


def test_minimal_mode_has_only_basic_layers() -> None:
    with sr.Sandbox(workers=1, isolation_mode="minimal") as sb:
        assert "seccomp" not in sb.isolation and "uid" not in sb.isolation
        assert sb.run("print(2 + 2)").stdout == "4\n"
        assert sb.run("while True: pass", limits=sr.Limits(timeout_s=0.2)).status == "timeout"


def test_environment_is_scrubbed(sandbox: sr.Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPREWARD_TEST_SECRET", "hunter2")
    with sr.Sandbox(workers=1) as sb:
        r = sb.run("import os; print(sorted(os.environ))")
    assert "STEPREWARD_TEST_SECRET" not in r.stdout
    assert r.stdout.strip() == str(sorted(["HOME", "LANG", "PATH", "PYTHONHASHSEED", "TMPDIR"]))


def test_work_dir_is_private_empty_and_removed(sandbox: sr.Sandbox) -> None:
    r = sandbox.run("import os\nprint(os.listdir('.'))\nopen('f.txt', 'w').write('x')\n"
                    "print(os.getcwd())")
    listing, cwd = r.stdout.splitlines()
    assert listing == "[]"
    assert not os.path.exists(cwd)


def test_oversized_or_unserialisable_results_are_not_ok(sandbox: sr.Sandbox) -> None:
    big = sandbox.call("textwrap:dedent", "x" * 5000, limits=sr.Limits(max_result_bytes=1024))
    assert big.status == "crashed" and big.value is None
    assert "result channel" in (big.reason or "")
    small = sandbox.call("textwrap:dedent", "x" * 100, limits=sr.Limits(max_result_bytes=1024))
    assert small.ok and small.value == "x" * 100
    odd = sandbox.call("builtins:set", [1, 2])  # not JSON: reported via repr, not pickled
    assert odd.ok and odd.value == "{1, 2}"
