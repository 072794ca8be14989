"""``python -m stepreward.cli COMMAND ...``: the ``stepreward`` command line."""

from __future__ import annotations

import sys

from stepreward.cli import main

if __name__ == "__main__":
    sys.exit(main())
