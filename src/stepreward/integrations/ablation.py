"""The reward ablation at its first address: re-exports of :mod:`stepreward.recipe.ablation`
(canonical).

``python -m stepreward.integrations.ablation CONFIG`` runs ``stepreward ablation CONFIG``.
"""

from __future__ import annotations

import sys

from stepreward.recipe.ablation import compare, main, run_ablation

__all__ = ["compare", "main", "run_ablation"]

if __name__ == "__main__":
    sys.exit(main())
