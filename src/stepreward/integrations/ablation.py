"""Deprecated address of the reward ablation: :mod:`stepreward.recipe.ablation` re-exported.

``python -m stepreward.integrations.ablation CONFIG`` still runs ``stepreward ablation CONFIG``.
"""

from __future__ import annotations

import sys

from stepreward._compat import warn_renamed
from stepreward.recipe.ablation import compare, main, run_ablation

__all__ = ["compare", "main", "run_ablation"]

if __name__ == "__main__":
    warn_renamed("python -m stepreward.integrations.ablation", "stepreward ablation",
                 stacklevel=2)
    sys.exit(main())
else:
    warn_renamed("stepreward.integrations.ablation", "stepreward.recipe")
