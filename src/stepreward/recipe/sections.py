"""The sections of a recipe config: every key each section takes, with its default.

A key set to null takes its default unless null means something for it (``lora: null``: no
LoRA); an unknown key is refused. :mod:`stepreward.recipe.schema` assembles them into the
whole :class:`~stepreward.recipe.schema.RecipeConfig`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stepreward.questions import DEFAULT_KINDS

__all__ = ["EVAL_CHECKPOINTS", "CodeSection", "DataOptions", "DataSection", "DifficultySection",
           "Dtype", "EvalSection", "GrpoSection", "LoraSection", "ModelSection", "Section",
           "SftSection", "SolverSection", "TinySection"]

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
EVAL_CHECKPOINTS = ("base", "sft", "stage1", "stage2")


def _allows_none(annotation: Any) -> bool:
    return annotation is None or type(None) in typing.get_args(annotation) or (
        isinstance(annotation, types.UnionType) and type(None) in annotation.__args__)


class Section(BaseModel):
    """A config section: unknown keys refused, null read as the default."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = cls.model_fields
            return {k: v for k, v in data.items()
                    if v is not None or k not in fields or _allows_none(fields[k].annotation)}
        return data


class LoraSection(Section):
    """``model.lora``: peft ``LoraConfig`` fields. Unset ``lora_alpha`` is twice ``r``; unset
    ``target_modules`` is every linear layer (of the top ``trainable_layers`` when set, which
    also sets ``layers_to_transform``)."""

    r: int = 16
    lora_alpha: int | None = None
    lora_dropout: float = 0.0
    target_modules: list[str] | str | None = None
    layers_to_transform: list[int] | None = None


class TinySection(Section):
    """``model.tiny``: arguments of :func:`stepreward.recipe.tiny.build_tiny_model` (unset:
    its defaults; ``seed`` unset: the config's seed), and ``corpus_from_data`` (fit the
    tokenizer to the recipe's own prompts and answers too)."""

    vocab_size: int | None = None
    hidden_size: int | None = None
    layers: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    intermediate_size: int | None = None
    corpus_bytes: int | None = None
    seed: int | None = None
    force: bool | None = None
    corpus_from_data: bool = False


class ModelSection(Section):
    """``model``: a local checkpoint (``name_or_path``) or a tiny model built here, and how to
    load it (``dtype`` auto: the checkpoint's)."""

    name_or_path: str | None = None
    build_tiny: bool = False
    tiny: TinySection = TinySection()
    dtype: Dtype | None = None
    attn_implementation: str | None = None
    trainable_layers: int | None = None
    lora: LoraSection | bool | None = None


class CodeSection(Section):
    """``data.code``: the stage-2 tasks. ``source`` unset: ``easy`` when ``easy`` is set,
    ``mbpp-plus`` when ``mbpp_plus_path`` is, else ``synth``; ``n`` unset: every task of a file,
    64 made ones (easy, synth); ``seed`` unset: the data seed + 1."""

    source: str | None = None
    path: str | None = None
    n: int | None = None
    levels: list[int] = [2, 3]
    seed: int | None = None
    easy: bool = False
    max_ops: int = 2
    validation: int = 0
    sft: int = 0
    force_contaminated: bool = False
    mbpp_plus_path: str | None = None

    def count(self) -> int:
        """How many tasks a source that makes them (easy, synth) aims at: ``n``, else 64."""
        return self.n if self.n is not None else 64


class DifficultySection(Section):
    """``data.difficulty``: keep an item only when the policy model (an OpenAI-compatible
    server) passes it at most ``max_pass`` of ``n`` tries at ``temperature``."""

    endpoint: str | None = None
    model: str = "default"
    max_concurrency: int = 8
    n: int = 10
    max_pass: int = 3
    temperature: float = 1.0


class SolverSection(Section):
    """``data.solver``: keep an item only when a stronger model passes it in ``n`` tries."""

    endpoint: str | None = None
    model: str = "default"
    max_concurrency: int = 8
    n: int = 1
    temperature: float = 0.6


class DataOptions(Section):
    """The ``build_dataset`` options of the ``data`` section (see ``dataset_options``)."""

    validation_fraction: float = 0.05
    input_share: float = 0.0
    filter_max_tokens: int = 4096
    difficulty: DifficultySection | None = None
    solver: SolverSection | Literal["narration"] | None = None


class DataSection(DataOptions):
    """``data``: what ``build_dataset`` makes, and the code tasks."""

    n: int
    levels: list[int] = [1, 2, 3, 4, 5, 6]
    seed: int | None = None
    kinds: list[str] = Field(default_factory=lambda: list(DEFAULT_KINDS))
    max_per_kind: int = 5
    sft: int = 0
    sft_answers: int = 0
    compact_prompts: bool = False
    max_answer_chars: int | None = None
    code: CodeSection = CodeSection()


class SftSection(Section):
    """``sft``: TRL ``SFTConfig`` fields in ``config``."""

    config: dict[str, Any] = {}


class GrpoSection(Section):
    """``stage1`` / ``stage2``: rewards and TRL ``GRPOConfig`` fields in ``config``.

    Stage 1 reads ``reward`` (a preset name or RewardConfig fields), ``policy``,
    ``extraction`` (``lenient`` also reads an unclosed answer block or the last fenced block,
    for a first RL stage on a model never taught the format), ``max_rows``, ``per_program``
    and ``curriculum``; stage 2 reads ``format_bonus``,
    ``partial_tests`` (unset: the plain pass rate), ``partial_seed`` (the partial-credit tests
    drawn per task with this seed instead of the first ones), ``test_timeout_s`` and
    ``instruction``
    (``method``: the method's wording; unset: the default one); both read ``format_reward``
    (add FormatReward) and ``max_prompt_tokens`` (drop longer prompts).
    """

    config: dict[str, Any] = {}
    reward: str | dict[str, Any] = "normalized"
    policy: Literal["literal", "execute"] = "literal"
    extraction: Literal["strict", "lenient"] = "strict"
    format_reward: bool = True
    max_rows: int | None = None
    per_program: int | None = None
    max_prompt_tokens: int | None = None
    curriculum: dict[str, Any] | bool | None = None
    format_bonus: float = 0.0
    partial_tests: int | None = None
    partial_seed: int | None = None
    test_timeout_s: float = 1.0
    instruction: str | None = None


class EvalSection(Section):
    """``eval``: held-out evaluation of every stage's checkpoint (``samples``: draws per
    prompt at ``temperature`` besides the greedy answer; ``bench``: benchmark name -> items;
    ``benchmarks``: what the stage-2 set is checked against, unset: the defaults)."""

    n: int = 16
    code_n: int = 64
    max_new_tokens: int = 32
    code_max_new_tokens: int = 96
    batch_size: int = 16
    checkpoints: list[str] = list(EVAL_CHECKPOINTS)
    samples: int = 0
    temperature: float = 1.0
    test_timeout_s: float = 1.0
    benchmarks: dict[str, Any] | list[str] | None = None
    dtype: Dtype | None = None
    bench: dict[str, int] | None = None
    bench_data: str | None = None
    bench_max_new_tokens: int = 48
