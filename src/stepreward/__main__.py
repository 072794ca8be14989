"""``python -m stepreward COMMAND ...``: the ``stepreward`` command line (for launchers that take
a module, such as ``accelerate launch -m stepreward recipe CONFIG``)."""

from __future__ import annotations

import sys

from stepreward.cli import main

if __name__ == "__main__":
    sys.exit(main())
