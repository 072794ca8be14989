"""Deprecated address of the recipe's driver: :mod:`stepreward.recipe` re-exported.

``python -m stepreward.integrations.recipe CONFIG`` still runs ``stepreward recipe CONFIG``.
"""

from __future__ import annotations

import sys

from stepreward._compat import warn_renamed
from stepreward.questions._formats import compact_prompt
from stepreward.recipe.data import compact_row, short_answer
from stepreward.recipe.driver import STAGES, main, run_recipe
from stepreward.recipe.easy import easy_code_tasks
from stepreward.recipe.report import eval_table

__all__ = ["STAGES", "compact_prompt", "compact_row", "easy_code_tasks", "eval_table", "main",
           "run_recipe", "short_answer"]

if __name__ == "__main__":
    warn_renamed("python -m stepreward.integrations.recipe", "stepreward recipe", stacklevel=2)
    sys.exit(main())
else:
    warn_renamed("stepreward.integrations.recipe", "stepreward.recipe")
