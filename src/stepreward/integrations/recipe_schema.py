"""The schema of a recipe config (YAML): every section and key the recipe reads, nothing else.

A misspelled key is an error that names it (and the key it probably meant) before anything
runs; the ``config`` mapping of a stage goes to TRL as is (``PRINT_ARGS=1`` checks it against
the installed TRL).
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["RecipeConfig", "validate_recipe_config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSection(_Section):
    """``model.lora``: peft ``LoraConfig`` fields (r 16, alpha 2r, dropout 0, all linear
    layers by default)."""

    r: int | None = None
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    target_modules: list[str] | str | None = None
    layers_to_transform: list[int] | None = None


class ModelSection(_Section):
    """``model``: a local checkpoint (``name_or_path``) or a tiny model built here."""

    name_or_path: str | None = None
    build_tiny: bool = False
    tiny: dict[str, Any] = {}
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    attn_implementation: str | None = None
    trainable_layers: int | None = None
    lora: LoraSection | bool | None = None


class CodeSection(_Section):
    """``data.code``: the stage-2 tasks."""

    source: str | None = None
    path: str | None = None
    n: int | None = None
    levels: list[int] | None = None
    seed: int | None = None
    easy: bool = False
    max_ops: int | None = None
    validation: int | None = None
    sft: int | None = None
    force_contaminated: bool = False
    mbpp_plus_path: str | None = None


class DataSection(_Section):
    """``data``: what ``build_dataset`` makes, and the code tasks."""

    n: int
    levels: list[int] | None = None
    seed: int | None = None
    kinds: list[str] | None = None
    max_per_kind: int | None = None
    sft: int | None = None
    sft_answers: int | None = None
    validation_fraction: float | None = None
    input_share: float | None = None
    compact_prompts: bool = False
    max_answer_chars: int | None = None
    filter_max_tokens: int | None = None
    difficulty: dict[str, Any] | None = None
    solver: dict[str, Any] | str | None = None
    code: CodeSection = CodeSection()


class SftSection(_Section):
    """``sft``: TRL ``SFTConfig`` fields in ``config``."""

    config: dict[str, Any] = {}


class GrpoSection(_Section):
    """``stage1`` / ``stage2``: rewards and TRL ``GRPOConfig`` fields in ``config``."""

    config: dict[str, Any] = {}
    reward: str | dict[str, Any] | None = None
    policy: str | None = None
    extraction: Literal["strict", "lenient"] | None = None
    format_reward: bool | None = None
    max_rows: int | None = None
    per_program: int | None = None
    max_prompt_tokens: int | None = None
    curriculum: dict[str, Any] | bool | None = None
    format_bonus: float | None = None
    partial_tests: int | None = None
    partial_seed: int | None = None
    test_timeout_s: float | None = None
    instruction: str | None = None


class EvalSection(_Section):
    """``eval``: held-out evaluation of every stage's checkpoint."""

    n: int | None = None
    code_n: int | None = None
    max_new_tokens: int | None = None
    code_max_new_tokens: int | None = None
    batch_size: int | None = None
    checkpoints: list[str] | None = None
    samples: int | None = None
    temperature: float | None = None
    benchmarks: dict[str, Any] | list[str] | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    bench: dict[str, int] | None = None
    bench_data: str | None = None
    bench_max_new_tokens: int | None = None


class RecipeConfig(_Section):
    """A whole recipe config.

    Example:
        >>> RecipeConfig.model_validate({"data": {"n": 8}}).data.n
        8
    """

    output_dir: str | None = None
    seed: int = 0
    resume: bool = False
    threads: int | None = None
    system_prompt: str | None = None
    model: ModelSection = ModelSection()
    data: DataSection | None = None
    sft: SftSection | None = None
    stage1: GrpoSection | None = None
    stage2: GrpoSection | None = None
    eval: EvalSection | None = None


def _known(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    fields = model.model_fields
    for part in path:
        info = fields.get(str(part))
        if info is None:
            return list(fields)
        ann = info.annotation
        sub = next((a for a in getattr(ann, "__args__", (ann,))
                    if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is None:
            return list(fields)
        fields = sub.model_fields
    return list(fields)


def validate_recipe_config(cfg: dict[str, Any], source: str = "the config") -> RecipeConfig:
    """Check a recipe config; a ValueError names each wrong key (and the likely intended one).

    Example:
        >>> validate_recipe_config({"data": {"n": 8, "levls": [1]}})
        Traceback (most recent call last):
        ...
        ValueError: the config: unknown key 'data.levls' (did you mean 'levels'?)
    """
    try:
        return RecipeConfig.model_validate(cfg)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            where = ".".join(str(x) for x in loc) or "(top level)"
            if err.get("type") == "extra_forbidden" and loc:
                near = difflib.get_close_matches(str(loc[-1]), _known(RecipeConfig, loc[:-1]),
                                                 n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                problems.append(f"unknown key '{where}'{hint}")
            else:
                problems.append(f"'{where}': {err.get('msg')} (got {err.get('input')!r})")
        raise ValueError(f"{source}: " + "; ".join(problems)) from None
