"""What the recipe's training stages share, at its former private address: re-exports of
:mod:`stepreward.recipe.training` and :func:`stepreward.recipe.sft.sft_dataset`."""

from __future__ import annotations

from stepreward.recipe.sft import sft_dataset
from stepreward.recipe.training import (
    DEFAULT_SETTINGS,
    FIXED_SETTINGS,
    PROMPT_FILE,
    StepClock,
    freeze_below,
    load_model,
    peft_config,
    prompt_format_of,
    save_checkpoint,
    trainer_settings,
)

__all__ = ["DEFAULT_SETTINGS", "FIXED_SETTINGS", "PROMPT_FILE", "StepClock", "freeze_below",
           "load_model", "peft_config", "prompt_format_of", "save_checkpoint", "sft_dataset",
           "trainer_settings"]
