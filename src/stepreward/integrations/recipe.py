"""The recipe's driver at its first address: re-exports of :mod:`stepreward.recipe` (canonical).

``python -m stepreward.integrations.recipe CONFIG`` runs ``stepreward recipe CONFIG``.
"""

from __future__ import annotations

import sys

from stepreward.questions._formats import compact_prompt
from stepreward.recipe.data import compact_row, short_answer
from stepreward.recipe.driver import STAGES, main, run_recipe
from stepreward.recipe.easy import easy_code_tasks
from stepreward.recipe.report import eval_table

__all__ = ["STAGES", "compact_prompt", "compact_row", "easy_code_tasks", "eval_table", "main",
           "run_recipe", "short_answer"]

if __name__ == "__main__":
    sys.exit(main())
