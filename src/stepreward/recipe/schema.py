"""The schema of a recipe config (YAML): every section and key the recipe reads, with its default.

The defaults live here and nowhere else: the stages read the validated :class:`RecipeConfig`.
A misspelled key is an error that names it (and the key it probably meant) before anything
runs; a key set to null takes its default unless null means something for it (``system_prompt:
null``: no system turn). The ``config`` mapping of a stage goes to TRL as is (``PRINT_ARGS=1``
checks it against the installed TRL).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stepreward.questions import DEFAULT_KINDS
from stepreward.synth._dataset import SYSTEM_PROMPT

__all__ = ["CodeSection", "DataOptions", "DataSection", "EvalSection", "GrpoSection",
           "LoraSection", "ModelSection", "RecipeConfig", "SftSection", "TinySection",
           "load_config", "validate_recipe_config", "validate_section"]

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
EVAL_CHECKPOINTS = ("base", "sft", "stage1", "stage2")


def _allows_none(annotation: Any) -> bool:
    return annotation is None or type(None) in typing.get_args(annotation) or (
        isinstance(annotation, types.UnionType) and type(None) in annotation.__args__)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = cls.model_fields
            return {k: v for k, v in data.items()
                    if v is not None or k not in fields or _allows_none(fields[k].annotation)}
        return data


class LoraSection(_Section):
    """``model.lora``: peft ``LoraConfig`` fields. Unset ``lora_alpha`` is twice ``r``; unset
    ``target_modules`` is every linear layer (of the top ``trainable_layers`` when set, which
    also sets ``layers_to_transform``)."""

    r: int = 16
    lora_alpha: int | None = None
    lora_dropout: float = 0.0
    target_modules: list[str] | str | None = None
    layers_to_transform: list[int] | None = None


class TinySection(_Section):
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


class ModelSection(_Section):
    """``model``: a local checkpoint (``name_or_path``) or a tiny model built here, and how to
    load it (``dtype`` auto: the checkpoint's)."""

    name_or_path: str | None = None
    build_tiny: bool = False
    tiny: TinySection = TinySection()
    dtype: Dtype | None = None
    attn_implementation: str | None = None
    trainable_layers: int | None = None
    lora: LoraSection | bool | None = None


class CodeSection(_Section):
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


class DifficultySection(_Section):
    """``data.difficulty``: keep an item only when the policy model (an OpenAI-compatible
    server) passes it at most ``max_pass`` of ``n`` tries at ``temperature``."""

    endpoint: str | None = None
    model: str = "default"
    max_concurrency: int = 8
    n: int = 10
    max_pass: int = 3
    temperature: float = 1.0


class SolverSection(_Section):
    """``data.solver``: keep an item only when a stronger model passes it in ``n`` tries."""

    endpoint: str | None = None
    model: str = "default"
    max_concurrency: int = 8
    n: int = 1
    temperature: float = 0.6


class DataOptions(_Section):
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


class SftSection(_Section):
    """``sft``: TRL ``SFTConfig`` fields in ``config``."""

    config: dict[str, Any] = {}


class GrpoSection(_Section):
    """``stage1`` / ``stage2``: rewards and TRL ``GRPOConfig`` fields in ``config``.

    Stage 1 reads ``reward`` (a preset name or RewardConfig fields), ``policy``,
    ``max_rows``, ``per_program`` and ``curriculum``; stage 2 reads ``format_bonus``,
    ``partial_tests`` (unset: the plain pass rate), ``test_timeout_s`` and ``instruction``
    (``method``: the method's wording; unset: the default one); both read ``format_reward``
    (add FormatReward) and ``max_prompt_tokens`` (drop longer prompts).
    """

    config: dict[str, Any] = {}
    reward: str | dict[str, Any] = "normalized"
    policy: Literal["literal", "execute"] = "literal"
    format_reward: bool = True
    max_rows: int | None = None
    per_program: int | None = None
    max_prompt_tokens: int | None = None
    curriculum: dict[str, Any] | bool | None = None
    format_bonus: float = 0.0
    partial_tests: int | None = None
    test_timeout_s: float = 1.0
    instruction: str | None = None


class EvalSection(_Section):
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


class RecipeConfig(_Section):
    """A whole recipe config, every default filled in.

    Example:
        >>> cfg = RecipeConfig.model_validate({"data": {"n": 8}})
        >>> cfg.data.n, cfg.data.levels, cfg.eval.n, cfg.stage1.reward
        (8, [1, 2, 3, 4, 5, 6], 16, 'normalized')
    """

    output_dir: str = "runs/recipe"
    seed: int = 0
    resume: bool = False
    threads: int | None = None
    system_prompt: str | None = SYSTEM_PROMPT
    model: ModelSection = ModelSection()
    data: DataSection | None = None
    sft: SftSection = SftSection()
    stage1: GrpoSection = GrpoSection()
    stage2: GrpoSection = GrpoSection()
    eval: EvalSection = EvalSection()

    def data_section(self) -> DataSection:
        """The ``data`` section; a ValueError when the config has none."""
        if self.data is None:
            raise ValueError("the config has no data section (data.n at least)")
        return self.data

    def data_seed(self) -> int:
        """``data.seed``, or the config's seed."""
        seed = self.data.seed if self.data is not None else None
        return self.seed if seed is None else seed

    def require(self, section: str) -> None:
        """A ValueError unless the config gives ``section`` (a stage needs its own)."""
        if section not in self.model_fields_set:
            raise ValueError(f"the {section} stage needs a `{section}` section in the config")

    def prompt_record(self) -> dict[str, Any]:
        """How the recipe renders prompts: saved with every checkpoint for evaluation.

        Example:
            >>> RecipeConfig(system_prompt=None).prompt_record()
            {'format': 'full', 'system_prompt': None}
        """
        compact = self.data is not None and self.data.compact_prompts
        return {"format": "compact" if compact else "full", "system_prompt": self.system()}

    def system(self) -> str | None:
        """The one system prompt of SFT rows, RL prompts and eval prompts (None: no system
        turn), so that training and evaluation see the same prompts."""
        return self.system_prompt or None


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


Section = TypeVar("Section", bound=BaseModel)


def validate_section(model: type[Section], value: Any, source: str = "the config",
                     prefix: str = "") -> Section:
    """``value`` as ``model``; a ValueError names each wrong key (and the likely intended one).

    Example:
        >>> validate_section(EvalSection, {"n": 4}).code_n
        64
        >>> validate_section(EvalSection, {"nn": 4}, prefix="eval")
        Traceback (most recent call last):
        ...
        ValueError: the config: unknown key 'eval.nn' (did you mean 'n'?)
    """
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            where = ".".join(str(x) for x in (*([prefix] if prefix else []), *loc))
            where = where or "(top level)"
            if err.get("type") == "extra_forbidden" and loc:
                near = difflib.get_close_matches(str(loc[-1]), _known(model, loc[:-1]), n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                problems.append(f"unknown key '{where}'{hint}")
            else:
                problems.append(f"'{where}': {err.get('msg')} (got {err.get('input')!r})")
        raise ValueError(f"{source}: " + "; ".join(problems)) from None


def validate_recipe_config(cfg: Mapping[str, Any] | RecipeConfig,
                           source: str = "the config") -> RecipeConfig:
    """Check a recipe config; a ValueError names each wrong key (and the likely intended one).

    Example:
        >>> validate_recipe_config({"data": {"n": 8, "levls": [1]}})
        Traceback (most recent call last):
        ...
        ValueError: the config: unknown key 'data.levls' (did you mean 'levels'?)
    """
    return validate_section(RecipeConfig, cfg, source)


def load_config(path: str | Path) -> dict[str, Any]:
    """The mapping of a recipe YAML file, checked against the schema (the file's own keys:
    overlay changes on it, then validate it into a :class:`RecipeConfig`).

    Example:
        >>> load_config("integrations/trl/tiny-cpu.yaml")["data"]["n"]  # doctest: +SKIP
        1600
    """
    import yaml

    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} is not a mapping")
    validate_recipe_config(cfg, str(path))  # a misspelled key stops here, named
    return cfg
