"""The hostile corpus: every attack is contained and the pool keeps giving right answers."""

from __future__ import annotations

import os
import signal
import socket
import stat
import threading
import time
from pathlib import Path

import psutil
import pytest

import stepreward as sr
from stepreward.sandbox._pool import DEFAULT_UID_BASE
from stepreward.testing import sandbox_processes

FAST = sr.Limits(timeout_s=0.5)


def stray_task_processes(uid: int | None = None) -> list[psutil.Process]:
    """Processes running as a task uid other than each template's one waiting spare."""
    by_uid: dict[int, list[psutil.Process]] = {}
    for p in sandbox_processes():
        real = p.uids().real
        if real >= DEFAULT_UID_BASE and (uid is None or real == uid):
            by_uid.setdefault(real, []).append(p)
    stray = []
    for real, procs in by_uid.items():
        template = real - DEFAULT_UID_BASE
        spares = [p for p in procs if p.ppid() == template]
        stray += [p for p in procs if p.ppid() != template] + spares[1:]
    return stray


def benign_ok(sb: sr.Sandbox, n: int = 7) -> None:
    r = sb.run(f"print(sum(range({n})))")
    assert r.status == "ok" and r.stdout == f"{sum(range(n))}\n", r


FORGE = (
    "import os, json, struct\n"
    "body = json.dumps({'status': 'ok', 'value': 'FORGED'}).encode()\n"
    "os.write(3, b'SRR1' + struct.pack('>Q', len(body)) + body)\n"
)

# name -> (code, allowed statuses, limits)
CORPUS: dict[str, tuple[str, set[str], sr.Limits]] = {
    "infinite_loop": ("while True:\n    pass", {"timeout"}, FAST),
    "sleep_forever": ("import time\ntime.sleep(3600)", {"timeout"}, FAST),
    "memory_bomb_fast": ("x = bytearray(1 << 40)", {"memory"}, FAST),
    "memory_bomb_slow": ("chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))",
                         {"memory"}, sr.Limits(timeout_s=5, memory_mb=128)),
    "fork_bomb": ("import os\nwhile True:\n    os.fork()", {"error"}, FAST),
    "output_flood": ("while True:\n    print('x' * 4096)", {"output_limit"}, FAST),
    "stderr_flood": ("import sys\nwhile True:\n    sys.stderr.write('e' * 4096)",
                     {"output_limit"}, FAST),
    "deep_recursion": ("def f(n):\n    return f(n + 1)\nf(0)", {"error"}, FAST),
    "unbounded_recursion": ("import sys\nsys.setrecursionlimit(10 ** 9)\n"
                            "def f(n):\n    return f(n + 1)\nf(0)",
                            {"crashed", "memory", "timeout", "error"}, FAST),
    "segfault": ("import ctypes\nctypes.string_at(0)", {"crashed"}, FAST),
    "abort": ("import os\nos.abort()", {"crashed"}, FAST),
    "ignore_signals": ("import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU,"
                       " signal.SIGHUP):\n    signal.signal(s, signal.SIG_IGN)\nwhile True:\n"
                       "    pass", {"timeout"}, FAST),
    "kill_all": ("import os\nos.kill(-1, 9)", {"error"}, FAST),
    "kill_parent": ("import os\nos.kill(os.getppid(), 9)", {"error"}, FAST),
    # 2 s, not FAST: on a loaded host four spinning threads can keep the main thread from
    # the GIL for half a second; a task that waited for its threads would still hit 2 s.
    "threads_left_running": ("import threading\ndef spin():\n    while True:\n        pass\n"
                             "for _ in range(4):\n    threading.Thread(target=spin).start()\n"
                             "print('main done')", {"ok"}, sr.Limits(timeout_s=2.0)),
    "forge_then_raise": (FORGE + "raise ValueError('after forging')", {"crashed"}, FAST),
    "forge_then_exit_1": (FORGE + "os._exit(1)", {"crashed"}, FAST),
    "exit_0_before_assertion": ("import os\nos._exit(0)\nassert False", {"crashed"}, FAST),
    "close_reporter": ("import os\nos.close(3)", {"crashed"}, FAST),
    "garbage_on_result_channel": ("import os\nos.write(3, b'not a record')", {"crashed"}, FAST),
    "ptrace_parent": ("import ctypes\nlibc = ctypes.CDLL(None)\n"
                      "assert libc.ptrace(16, __import__('os').getppid(), 0, 0) != 0\n",
                      {"ok"}, FAST),
    "unshare_namespaces": ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                           "assert libc.unshare(0x10000000) != 0\nprint('denied')", {"ok"}, FAST),
    # Memory the address-space limit does not see: a memfd, a SysV segment, tmpfs files.
    "memfd_hoard": ("import os\nfds = [os.memfd_create(f'hoard{i}') for i in range(16)]\n"
                    "for fd in fds:\n    for _ in range(16):\n"
                    "        os.write(fd, b'x' * (1 << 20))\nprint('held 256 MB')",
                    {"error"}, sr.Limits(timeout_s=5, memory_mb=64)),
    "sysv_shm_hoard": ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                       "libc.shmat.restype = ctypes.c_void_p\n"
                       "libc.shmdt.argtypes = [ctypes.c_void_p]\n"
                       "for _ in range(8):\n"
                       "    sid = libc.shmget(0, 32 << 20, 0o600)\n"
                       "    if sid < 0:\n"
                       "        raise OSError(ctypes.get_errno(), 'shmget refused')\n"
                       "    addr = libc.shmat(sid, None, 0)\n"
                       "    if addr in (None, 2 ** 64 - 1):\n"
                       "        raise OSError(ctypes.get_errno(), 'shmat refused')\n"
                       "    ctypes.memset(addr, 1, 32 << 20)\n    libc.shmdt(addr)\n"
                       "print('held 256 MB')",
                       {"error"}, sr.Limits(timeout_s=5, memory_mb=64)),
    "disk_fill": ("for i in range(12):\n    with open(f'fill{i}', 'wb') as f:\n"
                  "        f.write(b'x' * (8 << 20))\nprint('wrote 96 MB')",
                  {"error"}, sr.Limits(timeout_s=5)),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_program_is_contained(sandbox: sr.Sandbox, name: str) -> None:
    code, allowed, limits = CORPUS[name]
    r = sandbox.run(code, limits=limits)
    assert r.status in allowed, (name, r)
    assert r.value != "FORGED"
    assert r.status == "ok" or r.reason, "every non-ok status carries a reason"
    assert r.duration_s < limits.timeout_s + 2.0
    benign_ok(sandbox)


def test_threads_left_running_do_not_outlive_the_task(sandbox: sr.Sandbox) -> None:
    r = sandbox.run(CORPUS["threads_left_running"][0], limits=sr.Limits(timeout_s=2.0))
    assert r.stdout == "main done\n" and r.duration_s < 1.5
    assert stray_task_processes() == []


def test_forged_call_value_is_never_reported(sandbox: sr.Sandbox) -> None:
    # The forgery targets a library call's value: the task cannot make it come back as ok.
    r = sandbox.run(FORGE + "raise SystemExit(2)")
    assert r.status == "crashed" and r.value is None


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    # World-writable on purpose: a dropped uid alone would not protect it.
    tmp_path.chmod(0o777)
    target = tmp_path / "canary.txt"
    target.write_text("alive")
    target.chmod(0o666)
    return target


@pytest.mark.parametrize("how", [
    "import os\nos.system('rm -f {p}')",
    "import posix\nposix.system('rm -f {p}')",
    "import os\nos.remove('{p}')",
    "open('{p}', 'w').write('owned')",
    "import os\nos.execv('/bin/rm', ['rm', '-f', '{p}'])",
    "import ctypes\nctypes.CDLL(None).system(b'rm -f {p}')",
    "import os\nos.posix_spawn('/bin/rm', ['rm', '-f', '{p}'], {{}})",
])
def test_destructive_commands_cannot_touch_files_outside(sandbox: sr.Sandbox, canary: Path,
                                                         how: str) -> None:
    r = sandbox.run(how.format(p=canary), limits=FAST)
    assert r.status in ("ok", "error"), r
    assert canary.read_text() == "alive"
    benign_ok(sandbox)


def test_cannot_read_outside_the_work_dir(sandbox: sr.Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    secret.chmod(0o644)
    tmp_path.chmod(0o755)
    for path in (str(secret), "/etc/passwd", f"/proc/{os.getpid()}/environ",
                 os.path.expanduser("~/.bashrc")):
        r = sandbox.run(f"print(open({path!r}).read())", limits=FAST)
        assert r.status == "error", (path, r)
        assert r.error_type in ("PermissionError", "FileNotFoundError"), r
        assert "s3cret" not in r.stdout
    r = sandbox.run("import os\nprint(os.listdir('/'))", limits=FAST)
    assert r.status == "error" and r.error_type == "PermissionError"


def test_cannot_write_outside_the_work_dir(sandbox: sr.Sandbox, tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    for path in (str(tmp_path / "x.txt"), "/tmp/stepreward-escape.txt", "/dev/shm/escape"):
        r = sandbox.run(f"open({path!r}, 'w').write('x')", limits=FAST)
        assert r.status == "error", (path, r)
        assert not os.path.exists(path)
    # ...but the task's own directory is writable.
    r = sandbox.run("open('ok.txt', 'w').write('x')\nprint(open('ok.txt').read())")
    assert r.stdout == "x\n"


def test_no_network_to_loopback(sandbox: sr.Sandbox) -> None:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    tcp.settimeout(0.2)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    tport, uport = tcp.getsockname()[1], udp.getsockname()[1]
    try:
        r1 = sandbox.run(f"import socket\ns = socket.create_connection(('127.0.0.1', {tport}))\n"
                         "s.sendall(b'leak')", limits=FAST)
        r2 = sandbox.run("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                         f"s.sendto(b'leak', ('127.0.0.1', {uport}))", limits=FAST)
        r3 = sandbox.run("import socket\ns = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n"
                         f"s.connect(('::1', {tport}))", limits=FAST)
        for r in (r1, r2, r3):
            assert r.status == "error", r
        with pytest.raises(TimeoutError):
            tcp.accept()
        with pytest.raises(TimeoutError):
            udp.recvfrom(16)
    finally:
        tcp.close()
        udp.close()
    benign_ok(sandbox)


def test_cannot_signal_the_trainer(sandbox: sr.Sandbox) -> None:
    got: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
    try:
        r = sandbox.run(f"import os, signal\nos.kill({os.getpid()}, signal.SIGUSR1)")
        time.sleep(0.05)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert r.status == "error" and r.error_type == "PermissionError"
    assert got == []


@pytest.mark.parametrize("max_processes", [4])
def test_fork_bomb_and_setsid_escape_with_forking_allowed(max_processes: int) -> None:
    # With fork allowed, the process-count rlimit and the subreaper sweep must still contain it.
    limits = sr.Limits(timeout_s=1.0, max_processes=max_processes)
    with sr.Sandbox(workers=1, limits=limits) as sb:
        bomb = sb.run("import os\nwhile True:\n    try:\n        os.fork()\n"
                      "    except OSError:\n        pass")
        assert bomb.status in ("timeout", "error", "crashed"), bomb
        escape = sb.run("import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                        "    if os.fork() == 0:\n        time.sleep(600)\n    os._exit(0)\n"
                        "print('parent exits')")
        assert escape.status == "ok" and escape.stdout == "parent exits\n"
        time.sleep(0.1)
        assert stray_task_processes(DEFAULT_UID_BASE + sb.info["pid"]) == []
        benign_ok(sb)


def test_template_killed_mid_job_gets_crashed_and_pool_recovers() -> None:
    with sr.Sandbox(workers=1) as sb:
        template_pid = sb.info["pid"]
        fut = sb.submit("import time\ntime.sleep(5)", limits=sr.Limits(timeout_s=10))
        time.sleep(0.3)
        os.kill(template_pid, signal.SIGKILL)
        r = fut.result(timeout=10)
        assert r.status == "crashed" and "replaced" in (r.reason or "")
        benign_ok(sb)
        kids = psutil.Process().children()
        assert template_pid not in [k.pid for k in kids]


def test_orphans_of_a_template_killed_mid_job_are_swept() -> None:
    with sr.Sandbox(workers=1, limits=sr.Limits(max_processes=4, timeout_s=10)) as sb:
        task_uid = DEFAULT_UID_BASE + sb.info["pid"]
        fut = sb.submit("import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                        "    time.sleep(600)\ntime.sleep(600)")
        time.sleep(0.3)
        os.kill(sb.info["pid"], signal.SIGKILL)
        assert fut.result(timeout=10).status == "crashed"
        benign_ok(sb)  # the replacement template sweeps the dead template's uid first
        time.sleep(0.1)
        assert [p for p in sandbox_processes() if p.uids().real == task_uid] == [], \
            "nothing of the dead template's uid survives"


def test_template_protocol_corruption_gets_crashed(sandbox: sr.Sandbox) -> None:
    # A task cannot reach the template's pipes: fds beyond 3 are closed in the child.
    r = sandbox.run("import os\nfor fd in range(4, 64):\n    try:\n        os.write(fd, b'x')\n"
                    "    except OSError:\n        pass\nprint('tried')")
    assert r.status == "ok" and r.stdout == "tried\n"
    benign_ok(sandbox)


HOSTILE_MIX = [
    ("raise RuntimeError('boom')", "error"),
    ("import os\nos._exit(0)", "crashed"),
    (FORGE + "raise ValueError()", "crashed"),
    ("import ctypes\nctypes.string_at(0)", "crashed"),
    ("x = bytearray(1 << 40)", "memory"),
    ("while True:\n    print('z' * 8192)", "output_limit"),
    ("import os\nos.fork()", "error"),
    ("import os\nos.kill(os.getppid(), 9)", "error"),
    ("open('/etc/shadow').read()", "error"),
]


def test_two_thousand_interleaved_jobs_keep_order_and_answers() -> None:
    codes: list[str] = []
    expected: list[tuple[str, str]] = []
    for i in range(1000):
        codes.append(f"print({i} * {i} + 1)")
        expected.append(("ok", f"{i * i + 1}\n"))
        if i % 100 == 50:
            codes.append("while True:\n    pass")
            expected.append(("timeout", ""))
        else:
            code, status = HOSTILE_MIX[i % len(HOSTILE_MIX)]
            codes.append(code)
            expected.append((status, ""))
    with sr.Sandbox(workers=2, limits=sr.Limits(timeout_s=0.3)) as sb:
        results = sb.run_many(codes)
    assert len(results) == 2000
    for (status, stdout), r in zip(expected, results, strict=True):
        assert r.status == status, r
        if status == "ok":
            assert r.stdout == stdout


def test_no_process_survives_close() -> None:
    before = {p.pid for p in sandbox_processes()}
    sb = sr.Sandbox(workers=2, limits=sr.Limits(max_processes=4, timeout_s=0.5))
    sb.run_many(["import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)",
                 "while True:\n    pass", "print(1)"])
    pending = sb.submit("import time\ntime.sleep(30)", limits=sr.Limits(timeout_s=60))
    time.sleep(0.2)
    t0 = time.monotonic()
    sb.close()
    assert time.monotonic() - t0 < 5, "close() does not wait for jobs in flight"
    assert pending.done() and pending.result().status == "crashed"
    deadline = time.monotonic() + 5
    while sandbox_processes(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes(before) == []


def template_base_dir(sb: sr.Sandbox) -> Path:
    """The template's directory of work dirs, as the template sees it.

    With the ``workdir-tmpfs`` layer it is a tmpfs in the template's own mount namespace,
    which the host sees only through ``/proc/<template>/root``.
    """
    r = sb.run("import os\nprint(os.getppid(), os.path.dirname(os.getcwd()))")
    ppid, base = r.stdout.split()
    return Path(f"/proc/{ppid}/root{base}")


def test_work_dirs_do_not_accumulate() -> None:
    with sr.Sandbox(workers=1) as sb:
        base = template_base_dir(sb)
        sb.run_many(["open('big.bin', 'wb').write(b'0' * 100000)"] * 20)
        leftover = [p for p in base.rglob("*") if p.is_file()]
        assert leftover == []
        assert stat.S_IMODE(os.stat(base).st_mode) == 0o711


def test_worker_threads_are_not_leaked() -> None:
    before = threading.active_count()
    for _ in range(3):
        with sr.Sandbox(workers=2) as sb:
            sb.run("print(1)")
    assert threading.active_count() <= before


# ------------------------------------------- IPC, cleanup, a killed trainer, what tasks can read


def _host_ipc_keys() -> set[int]:
    """Keys of the SysV segments, queues and semaphore sets visible in the host's namespace."""
    keys: set[int] = set()
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as f:
            next(f)
            keys.update(int(line.split()[0]) for line in f if line.strip())
    return keys


_IPC_CREATE = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nmade = []\n"
    "for what, call in (('shm', lambda: libc.shmget(KEY, 4096, 0o1666)),\n"
    "                   ('msg', lambda: libc.msgget(KEY, 0o1666)),\n"
    "                   ('sem', lambda: libc.semget(KEY, 1, 0o1666))):\n"
    "    if call() >= 0:\n        made.append(what)\n"
    "print(made)\n"
)
_IPC_LOOKUP = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "print([what for what, call in (('shm', lambda: libc.shmget(KEY, 0, 0)),\n"
    "                               ('msg', lambda: libc.msgget(KEY, 0)),\n"
    "                               ('sem', lambda: libc.semget(KEY, 0, 0))) if call() >= 0])\n"
)


def _remove_host_ipc(key: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for get, ctl, args in ((libc.shmget, libc.shmctl, (0, 0)), (libc.msgget, libc.msgctl, (0,)),
                           (libc.semget, libc.semctl, (0, 0))):
        ident = get(key, *args)
        if ident >= 0:
            ctl(ident, *((0, 0) if ctl is libc.semctl else (0, None)))


def test_sysv_ipc_is_neither_visible_to_other_tasks_nor_survives() -> None:
    key = 0x5EED0000 + os.getpid() % 0xFFFF
    try:
        with sr.Sandbox(workers=2) as sb:
            created = sb.run(_IPC_CREATE.replace("KEY", str(key)))
            assert created.status == "ok", created
            # Later tasks on both workers, and the host, see nothing of it.
            seen = sb.run_many([_IPC_LOOKUP.replace("KEY", str(key))] * 4)
            assert [r.stdout for r in seen] == ["[]\n"] * 4, (created.stdout, seen)
            assert key not in _host_ipc_keys(), created.stdout
            assert "no-sysv-ipc" in sb.isolation or "ipcns-per-task" in sb.isolation
            # With seccomp the calls are refused outright: nothing is created at all.
            if "no-sysv-ipc" in sb.isolation:
                assert created.stdout == "[]\n"
        with sr.Sandbox(workers=1) as sb:
            assert sb.run(_IPC_LOOKUP.replace("KEY", str(key))).stdout == "[]\n"
        assert key not in _host_ipc_keys()
    finally:
        _remove_host_ipc(key)


def test_deep_work_dir_tree_is_removed_and_close_never_raises() -> None:
    deep = ("import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
            "    open('f', 'w').close()\nprint('deep')")
    sb = sr.Sandbox(workers=1, limits=sr.Limits(timeout_s=20))
    try:
        base = template_base_dir(sb)
        template = sb.run("import os\nprint(os.getppid())").stdout
        r = sb.run(deep)
        assert r.status == "ok" and r.stdout == "deep\n", r
        # The same template goes on (it did not crash on the cleanup), and the tree is gone.
        assert sb.run("import os\nprint(os.getppid())").stdout == template
        benign_ok(sb)
        assert [p for p in base.iterdir()] == [] or all(
            not any(p.iterdir()) for p in base.iterdir())
        tmp_dir = sb._state.tmp_dir
    finally:
        sb.close()  # must not raise
    assert not os.path.exists(tmp_dir)


def test_close_never_raises_even_if_cleanup_fails(tmp_path: Path) -> None:
    sb = sr.Sandbox(workers=1, tmp_dir=str(tmp_path))
    benign_ok(sb)
    # A tree the pool's own cleanup must cope with: deeper than the recursion limit.
    node = os.open(sb._state.tmp_dir, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(2000):
        os.mkdir("d", dir_fd=node)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=node)
        os.close(node)
        node = child
    os.close(node)
    sb.close()
    assert not os.path.exists(sb._state.tmp_dir)


_TRAINER = """
import os, sys, time
import stepreward as sr
sb = sr.Sandbox(workers=1, limits=sr.Limits(timeout_s=120, max_processes=MAXP))
sb.submit(CODE)
time.sleep(1.0)
print(os.getpid(), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("code", ["import time\ntime.sleep(300)", "while True:\n    pass"])
def test_no_task_survives_a_sigkilled_trainer(tmp_path: Path, code: str) -> None:
    import subprocess
    import sys

    script = _TRAINER.replace("MAXP", "1").replace("CODE", repr(code))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    tasks: list[psutil.Process] = []
    try:
        assert proc.stdout is not None
        trainer = int(proc.stdout.readline())
        tasks = [p for p in psutil.process_iter(["uids"])
                 if p.info["uids"] and p.info["uids"].real >= DEFAULT_UID_BASE
                 and trainer in {a.pid for a in p.parents()}]
        assert tasks, "the task is running"
        os.kill(trainer, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        alive = tasks
        while alive and time.monotonic() < deadline:
            alive = [p for p in tasks if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.05)
        assert alive == [], f"tasks outlived the trainer: {alive}"
    finally:
        proc.kill()
        proc.wait()
        for task in tasks:  # survivors would disturb the other tests of this session
            try:
                task.kill()
            except psutil.Error:
                pass


def test_site_packages_is_not_readable_from_tasks() -> None:
    import pydantic

    not_preloaded = os.path.join(os.path.dirname(pydantic.__file__), "__init__.py")
    site_dir = os.path.dirname(os.path.dirname(pydantic.__file__))
    # Closed to the task (Landlock: PermissionError), or not there at all where the checkout
    # lies below a directory only its owner can enter and tasks see the import paths alone
    # (FileNotFoundError; psutil may then be the copy ray vendors, elsewhere).
    unreadable = ("PermissionError", "FileNotFoundError")
    with sr.Sandbox(workers=1, preload=["psutil"]) as sb:
        r = sb.run(f"print(len(open({not_preloaded!r}).read()))")
        assert r.error_type in unreadable, r
        r = sb.run(f"import os\nprint(os.listdir({site_dir!r}))")
        assert r.error_type in unreadable or (r.status == "ok" and "pydantic" not in r.stdout), r
        # What preload names stays readable (and importable), as does the standard library.
        r = sb.run(f"print(len(open({psutil.__file__!r}).read()) > 0)\nimport decimal")
        assert r.status == "ok" and r.stdout == "True\n", r


_INSTALLED_TRAINER = r"""
import json, os, sys
import stepreward as sr
assert "site-packages" in sr.__file__, sr.__file__
site = os.path.dirname(os.path.dirname(sr.__file__))
# The task reaches its import directories through sys.path (descriptors the template opened:
# the task's uid cannot traverse /root), so it looks for each file along sys.path.
probe = '''
import json, os, sys
out = {}
for name in ("pip", "pydantic", "psutil", "stepreward", "json"):
    out[name] = "FileNotFoundError"
    for entry in sys.path:
        try:
            out[name] = len(open(os.path.join(entry, name, "__init__.py"), "rb").read()) > 0
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                out[name] = type(exc).__name__
        else:
            break
try:
    os.listdir(sys.path[0])
    out["listdir"] = True
except OSError as exc:
    out["listdir"] = type(exc).__name__
print(json.dumps(out))
'''
with sr.Sandbox(workers=1, preload=["psutil"]) as sb:
    r = sb.run(probe)
    print(json.dumps({"stdout": r.stdout, "stderr": r.stderr, "status": r.status, "site": site,
                      "isolation": list(sb.isolation)}))
"""


@pytest.mark.slow
def test_site_packages_is_not_readable_in_a_non_editable_install(tmp_path: Path) -> None:
    """``pip install .`` (not editable): stepreward then imports from site-packages itself."""
    import json
    import subprocess
    import sys
    import sysconfig

    repo = Path(__file__).resolve().parents[2]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # What `pip install .` does, in two steps so that the build uses this environment's
    # setuptools (offline): build the wheel, then install it into the fresh venv.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "-w", str(tmp_path / "dist"),
                    str(repo)], check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("stepreward-*.whl"))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, cwd=tmp_path)
    # The dependencies come from this interpreter's site-packages, appended by a .pth file
    # (which puts them after the venv's own site-packages, so the installed copy wins).
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path("
                                "'purelib'))"], check=True, capture_output=True, text=True)
                .stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    out = subprocess.run([str(py), "-c", _INSTALLED_TRAINER], check=True, capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["site"] == str(site), report
    if not any(layer.startswith("landlock") for layer in report["isolation"]):
        pytest.skip("no Landlock on this host: file reads are not confined")
    seen = json.loads(report["stdout"])
    # Installed next to stepreward (pip) or elsewhere (pydantic): unreadable; the pre-loaded
    # psutil, stepreward itself and the standard library: readable.
    assert seen == {"pip": "PermissionError", "pydantic": "PermissionError", "psutil": True,
                    "stepreward": True, "json": True, "listdir": "PermissionError"}, report


def test_packages_below_a_closed_directory_are_readable_at_their_own_paths(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-loaded package in a checkout or venv inside a 0700 directory (``mktemp -d``, a
    home): tasks run as another uid, yet read its files by their real paths and import its
    modules lazily; the rest of the closed directory stays out of their sight."""
    import shutil
    import tempfile

    closed = tempfile.mkdtemp(prefix="closed-")  # mode 0700, like mktemp -d
    try:
        assert stat.S_IMODE(os.stat(closed).st_mode) == 0o700
        pkg = Path(closed) / "lib" / "closedpkg"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("X = 1\n")
        (pkg / "lazy.py").write_text("Y = 2\n")
        (pkg / "data.txt").write_text("hello\n")
        (Path(closed) / "secret.txt").write_text("not for tasks\n")
        monkeypatch.syspath_prepend(str(pkg.parent))
        code = (f"import os, closedpkg\n"
                f"import closedpkg.lazy\n"
                f"print(closedpkg.lazy.Y, len(open(closedpkg.__file__).read()),\n"
                f"      open(os.path.join(os.path.dirname(closedpkg.__file__), 'data.txt')).read(),"
                f" end='')\n"
                f"import decimal\n"
                f"try:\n"
                f"    open({str(Path(closed) / 'secret.txt')!r}).read()\n"
                f"    print('LEAK')\n"
                f"except OSError as exc:\n"
                f"    print(type(exc).__name__)\n")
        with sr.Sandbox(workers=1, preload=["closedpkg"]) as sb:
            r = sb.run(code)
            if "uid" not in sb.isolation:
                pytest.skip("tasks run as the trainer's uid here")
        assert r.status == "ok", r
        lines = r.stdout.splitlines()
        assert lines[0] == "2 6 hello" and lines[1] in ("FileNotFoundError", "PermissionError"), r
    finally:
        shutil.rmtree(closed)


def test_an_unreadable_preloaded_package_fails_at_sandbox_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A package directory that only its owner may read cannot be bound readable: Sandbox()
    says so in one line instead of failing in every task."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="open-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        pkg = base / "shutpkg"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("X = 1\n")
        os.chmod(pkg, 0o700)
        monkeypatch.syspath_prepend(str(base))
        try:
            sb = sr.Sandbox(workers=1, preload=["shutpkg"])
        except RuntimeError as exc:
            message = str(exc)
            assert "\n" not in message and "cannot read" in message and "shutpkg" in message
        else:
            with sb:
                uid = "uid" in sb.isolation
            assert not uid, "a task uid that cannot read a pre-loaded package went unnoticed"
    finally:
        os.chmod(base / "shutpkg", 0o755)
        import shutil

        shutil.rmtree(base)


_CLOSED_VENV_TRAINER = r"""
import json, os, sys
import psutil
import stepreward as sr
probe = '''
import json, os, psutil, stepreward
import stepreward._layers  # not pre-loaded: imported lazily, from the closed venv
import decimal
out = {"psutil": len(open(psutil.__file__, "rb").read()) > 0,
       "stepreward": len(open(stepreward.__file__, "rb").read()) > 0,
       "lazy": len(stepreward._layers.LAYERS) > 5}
try:
    os.listdir(os.path.dirname(os.path.dirname(psutil.__file__)))
    out["listdir"] = True
except OSError as exc:
    out["listdir"] = type(exc).__name__
print(json.dumps(out))
'''
with sr.Sandbox(workers=1, preload=["psutil"]) as sb:
    r = sb.run(probe)
    print(json.dumps({"stdout": r.stdout, "stderr": r.stderr, "status": r.status,
                      "files": [psutil.__file__, sr.__file__], "isolation": list(sb.isolation)}))
"""


@pytest.mark.slow
def test_a_venv_inside_a_closed_directory_serves_tasks() -> None:
    """A fresh venv with stepreward (a wheel) and psutil inside a ``mktemp -d`` directory
    (mode 0700): tasks, as their own uid, import and read both at their real paths."""
    import json
    import shutil
    import subprocess
    import sys
    import sysconfig
    import tempfile

    repo = Path(__file__).resolve().parents[2]
    closed = Path(tempfile.mkdtemp(prefix="closed-venv-"))
    try:
        assert stat.S_IMODE(os.stat(closed).st_mode) == 0o700
        venv = closed / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = venv / "bin" / "python"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "--no-index", "-w", str(closed / "dist"),
                        str(repo)], check=True, cwd=closed)
        wheel = next((closed / "dist").glob("stepreward-*.whl"))
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                        str(wheel)], check=True, cwd=closed)
        site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig."
                                    "get_path('purelib'))"], check=True, capture_output=True,
                                   text=True).stdout.strip())
        shutil.copytree(Path(psutil.__file__).parent, site / "psutil")  # inside the closed dir
        (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
        out = subprocess.run([str(py), "-c", _CLOSED_VENV_TRAINER], check=True,
                             capture_output=True, text=True, cwd=closed, timeout=120)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert all(f.startswith(str(closed)) for f in report["files"]), report
        if "uid" not in report["isolation"]:
            pytest.skip("tasks run as the trainer's uid here")
        assert report["status"] == "ok", report
        seen = json.loads(report["stdout"])
        assert seen == {"psutil": True, "stepreward": True, "lazy": True,
                        "listdir": seen["listdir"]}, seen
        if any(layer.startswith("landlock") for layer in report["isolation"]):
            assert seen["listdir"] == "PermissionError", seen
    finally:
        shutil.rmtree(closed)
