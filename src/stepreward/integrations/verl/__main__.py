"""``python -m stepreward.integrations.verl rows IN.jsonl... --out OUT.parquet``: the former form
of ``stepreward verl-rows``, still accepted."""

from __future__ import annotations

import sys

from stepreward._compat import warn_renamed
from stepreward.integrations.verl.command import main

if __name__ == "__main__":
    warn_renamed("python -m stepreward.integrations.verl rows", "stepreward verl-rows",
                 stacklevel=2)
    sys.exit(main())
