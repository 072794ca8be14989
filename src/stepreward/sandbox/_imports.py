"""What a task may import, and how it reaches it: the standard library and the pre-loaded
packages only, through directory descriptors when their parents are closed to the task's uid."""

from __future__ import annotations

import fcntl
import os
import sys

__all__ = ["SYSTEM_READ_ONLY", "NotPreloaded", "can_read", "import_via_fds",
           "task_import_paths"]

_FD_BASE = 100  # import-directory descriptors live from here up in every task
# Read-only for tasks besides the import path: shared libraries that extension modules load.
SYSTEM_READ_ONLY = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib",
                    "/etc/ld.so.cache", "/usr/share/zoneinfo", "/etc/localtime")


class NotPreloaded:
    """Last meta-path finder in a task: explains why an existing module cannot be imported."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        top = name.partition(".")[0]
        if top in getattr(sys, "stdlib_module_names", ()):
            raise ModuleNotFoundError(
                f"No module named {name!r} in the sandbox: only modules pre-loaded by the "
                f"template can be imported here (pass Sandbox(preload=[{name!r}]))", name=name)


def task_import_paths(preload: list[str]) -> list[str]:
    """What tasks may read to import: the standard library and the pre-loaded packages only.

    Not the directories on ``sys.path`` beyond the standard library: in a normal install the
    directory stepreward is imported from is site-packages itself, and a task must not read
    other installed packages (a benchmark's answers, say).
    """
    import sysconfig

    paths: list[str] = []
    for key in ("stdlib", "platstdlib"):
        try:
            paths.append(sysconfig.get_path(key))
        except KeyError:
            continue
    std = [os.path.realpath(p) for p in paths]
    for entry in sys.path:  # the zipped stdlib and lib-dynload, where they live apart
        real = os.path.realpath(entry) if entry else ""
        if real and (entry.endswith(".zip") or os.path.basename(real) == "lib-dynload"
                     or any(real == s or real.startswith(s + os.sep) for s in std)):
            paths.append(entry)
    for name in ("stepreward", *preload):
        module = sys.modules.get(name.partition(".")[0])
        if module is None:
            continue
        package_dirs = getattr(module, "__path__", None)
        if package_dirs is not None:
            paths.extend(str(p) for p in package_dirs)
        elif getattr(module, "__file__", None):
            paths.append(str(module.__file__))
    return paths


def can_read(path: str) -> bool:
    """Whether this process can open ``path`` (a directory: list it) for reading."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (
            os.O_DIRECTORY if os.path.isdir(path) else 0))
    except OSError:
        return False
    os.close(fd)
    return True


def _remap(path: str, prefixes: list[str], mapping: dict[str, str]) -> str:
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix + os.sep):
            return mapping[prefix] + path[len(prefix):]
    return path


def import_via_fds() -> list[int]:
    """Let unprivileged tasks import modules the template did not pre-load.

    The interpreter's library may sit below a directory the task uid cannot traverse (such
    as a 0700 home).  A descriptor opened here, by root, names the directory itself, and
    ``/proc/self/fd/N/...`` resolves through it without traversing its ancestors; Landlock
    still limits reads to the directory's contents.  Rewriting sys.path and the __path__ of
    loaded packages here, once, makes every task inherit the working paths. Returns the
    descriptors every task keeps open.
    """
    keep: list[int] = []
    mapping: dict[str, str] = {}
    for entry in list(sys.path):
        if not entry or not os.path.isdir(entry) or entry in mapping:
            continue
        fd = os.open(entry, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _FD_BASE)
        os.close(fd)
        keep.append(high)
        mapping[entry] = f"/proc/self/fd/{high}"
    if not mapping:
        return keep
    sys.path[:] = [mapping.get(p, p) for p in sys.path]
    prefixes = sorted(mapping, key=len, reverse=True)
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if not isinstance(paths, list):
            continue
        paths[:] = [_remap(p, prefixes, mapping) for p in paths]
    sys.path_importer_cache.clear()
    return keep
