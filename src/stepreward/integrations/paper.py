"""Deprecated address of the method's paper settings (stage rewards, code tasks, contamination
checks, effective settings): :mod:`stepreward.recipe` re-exported.

``python -m stepreward.integrations.paper code-rows ...`` still runs ``stepreward paper
code-rows ...``.
"""

from __future__ import annotations

import sys

from stepreward._compat import warn_renamed
from stepreward.recipe.code_rows import main
from stepreward.recipe.code_tasks import PRIME_DATASET, code_spec, load_code_tasks, load_prime_rows
from stepreward.recipe.contamination import (
    DEFAULT_BENCHMARKS,
    ContaminationError,
    benchmark_tasks_ids,
    check_contamination,
    eval_benchmarks,
)
from stepreward.recipe.data import dataset_options
from stepreward.recipe.grpo import drop_long_prompts
from stepreward.recipe.rewards import STAGE2_INSTRUCTION, method_code_reward, stage_rewards
from stepreward.recipe.settings import effective_settings, format_settings

__all__ = ["DEFAULT_BENCHMARKS", "PRIME_DATASET", "STAGE2_INSTRUCTION", "ContaminationError",
           "benchmark_tasks_ids", "check_contamination", "code_spec", "dataset_options",
           "drop_long_prompts", "effective_settings", "eval_benchmarks", "format_settings",
           "load_code_tasks", "load_prime_rows", "main", "method_code_reward", "stage_rewards"]

if __name__ == "__main__":
    warn_renamed("python -m stepreward.integrations.paper", "stepreward paper", stacklevel=2)
    sys.exit(main())
else:
    warn_renamed("stepreward.integrations.paper", "stepreward.recipe")
