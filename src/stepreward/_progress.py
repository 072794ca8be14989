"""Progress reports for long commands: a tqdm bar on a terminal, plain lines in a log."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """Report ``done`` of ``total`` units on stderr without garbling logs.

    On a terminal it draws a tqdm bar (a plain ``\\r`` line when tqdm is not installed). When
    stderr is a file or a pipe it writes one complete line at most every ``every_s`` seconds
    and one at the end, so a log file gets readable lines instead of one huge one.

    Example:
        >>> p = Progress(3, "items", enabled=False)
        >>> for i in range(1, 4):
        ...     p.update(i)
        >>> p.close()
    """

    def __init__(self, total: int, unit: str, *, desc: str = "", enabled: bool = True,
                 stream: TextIO | None = None, every_s: float = 10.0) -> None:
        self.total = max(0, int(total))
        self.unit = unit
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.total > 0
        self.every_s = every_s
        self.start = time.monotonic()
        self._last_line = self.start
        self._done = 0
        self._bar: Any = None
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if self.enabled and self._tty:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=self.total, unit=f" {unit}", desc=desc or None,
                                 file=self.stream, dynamic_ncols=True, leave=True)

    def _text(self) -> str:
        rate = self._done / max(1e-9, time.monotonic() - self.start)
        pct = 100.0 * self._done / self.total if self.total else 100.0
        head = f"{self.desc}: " if self.desc else ""
        return f"{head}{self._done}/{self.total} {self.unit} ({pct:.0f}%), {rate:.1f}/s"

    def update(self, done: int) -> None:
        """Set the number of units done so far (absolute, not an increment)."""
        done = min(int(done), self.total)
        if not self.enabled or done <= self._done:
            return
        if self._bar is not None:
            self._bar.update(done - self._done)
            self._done = done
            return
        self._done = done
        if self._tty:
            self.stream.write("\r" + self._text())
            self.stream.flush()
        elif time.monotonic() - self._last_line >= self.every_s or done == self.total:
            self._last_line = time.monotonic()
            self.stream.write(self._text() + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Finish the report (a final line; the bar closed)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._tty:
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False
