"""The effective settings of a recipe config: TRL's defaults overlaid with the config, per stage,
and their printout (``PRINT_ARGS=1``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stepreward.recipe.code_tasks import code_spec
from stepreward.recipe.contamination import eval_benchmarks

if TYPE_CHECKING:
    from stepreward.recipe.schema import RecipeConfig

__all__ = ["effective_settings", "format_settings"]


def effective_settings(cfg: RecipeConfig | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every setting a recipe config leads to, per stage: TRL's defaults overlaid with the
    config (what ``PRINT_ARGS=1`` prints), plus the data, model, reward and eval options with
    the schema's defaults filled in.

    Example:
        >>> s = effective_settings({"sft": {"config": {"num_train_epochs": 2}}})
        >>> s["sft"]["num_train_epochs"], s["sft"]["lr_scheduler_type"]
        (2, 'linear')
    """
    import dataclasses

    from stepreward.recipe.schema import CodeSection, validate_recipe_config
    from stepreward.recipe.training import DEFAULT_SETTINGS

    c = validate_recipe_config(cfg)
    out: dict[str, dict[str, Any]] = {}
    out["data"] = c.data.model_dump(exclude={"code"}) if c.data is not None else {}
    out["data"]["code"] = code_spec(c.data.code if c.data is not None else CodeSection())
    out["data"]["system_prompt"] = c.system_prompt
    out["data"]["eval_benchmarks"] = eval_benchmarks(c)
    out["model"] = c.model.model_dump()
    out["eval"] = c.eval.model_dump(exclude={"benchmarks"})
    try:
        import trl
    except ImportError:  # pragma: no cover - the trl extra is missing
        trl = None
    for stage, klass in (("sft", "SFTConfig"), ("stage1", "GRPOConfig"),
                         ("stage2", "GRPOConfig")):
        values: dict[str, Any] = {}
        if trl is not None:
            for f in dataclasses.fields(getattr(trl, klass)):
                if f.default is not dataclasses.MISSING:
                    values[f.name] = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    values[f.name] = f.default_factory()
        values.update(DEFAULT_SETTINGS, seed=c.seed)
        given = dict(getattr(c, stage).config)
        unknown = sorted(k for k in given if trl is not None and k not in values)
        if unknown:
            raise ValueError(f"{stage}.config has settings that trl {trl.__version__}'s "
                             f"{klass} does not know: {unknown}")
        values.update(given)
        if stage == "stage1":
            values["reward"] = c.stage1.reward
            values["policy"] = c.stage1.policy
            values["extraction"] = c.stage1.extraction
            if c.stage1.curriculum is not None:  # validated here, before any work
                from stepreward.integrations.trl_curriculum import curriculum_from_config

                cc = curriculum_from_config(c.stage1.curriculum, seed=c.seed)
                values["curriculum"] = None if cc is None else cc.model_dump(mode="json")
        if stage == "stage2":
            values["format_bonus"] = c.stage2.format_bonus
            values["partial_tests"] = c.stage2.partial_tests
            values["partial_seed"] = c.stage2.partial_seed
            values["test_timeout_s"] = c.stage2.test_timeout_s
            values["instruction"] = c.stage2.instruction or "default"
        if stage != "sft":
            grpo = c.stage1 if stage == "stage1" else c.stage2
            values["format_reward"] = grpo.format_reward
            values["max_prompt_tokens"] = grpo.max_prompt_tokens
        out[stage] = values
    return out


_PRINTED = ("num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type",
            "warmup_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
            "max_length", "max_completion_length", "max_prompt_tokens", "num_generations",
            "generation_batch_size", "steps_per_generation", "temperature", "top_p", "beta",
            "epsilon", "loss_type", "scale_rewards", "bf16", "gradient_checkpointing",
            "assistant_only_loss", "use_vllm", "seed", "reward", "policy", "extraction",
            "format_reward",
            "weight_decay", "max_grad_norm", "num_iterations",
            "format_bonus", "partial_tests", "partial_seed", "test_timeout_s", "instruction")


def format_settings(settings: Mapping[str, Mapping[str, Any]], *, full: bool = False) -> str:
    """The effective settings as ``stage.key = value`` lines (the main ones unless ``full``).

    Example:
        >>> format_settings({"sft": {"learning_rate": 1e-05}})
        'sft.learning_rate = 1e-05'
    """
    lines = []
    for stage, values in settings.items():
        for key, value in values.items():
            if full or stage in ("data", "model", "eval") or key in _PRINTED:
                lines.append(f"{stage}.{key} = {json.dumps(value, default=str)}"
                             if not isinstance(value, float) else f"{stage}.{key} = {value!r}")
    return "\n".join(lines)
