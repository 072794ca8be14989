"""The schema of a recipe config (YAML): every section and key the recipe reads, with its default.

The defaults live here and in :mod:`stepreward.recipe.sections` and nowhere else: the stages
read the validated :class:`RecipeConfig`.
A misspelled key is an error that names it (and the key it probably meant) before anything
runs; a key set to null takes its default unless null means something for it (``system_prompt:
null``: no system turn). The ``config`` mapping of a stage goes to TRL as is (``PRINT_ARGS=1``
checks it against the installed TRL).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from stepreward.recipe.sections import (
    EVAL_CHECKPOINTS,
    CodeSection,
    DataOptions,
    DataSection,
    DifficultySection,
    EvalSection,
    GrpoSection,
    LoraSection,
    ModelSection,
    Section,
    SftSection,
    SolverSection,
    TinySection,
)
from stepreward.synth._dataset import SYSTEM_PROMPT

__all__ = ["ABLATION_EVAL_N", "EVAL_CHECKPOINTS", "AblationConfig", "CodeSection", "DataOptions",
           "DataSection", "DifficultySection", "EvalSection", "GrpoSection", "LoraSection",
           "ModelSection", "RecipeConfig", "SftSection", "SolverSection", "TinySection",
           "load_config", "validate_recipe_config", "validate_section"]


class RecipeConfig(Section):
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


class AblationConfig(Section):
    """An ablation config (``stepreward ablation``): the recipe config it starts from
    (``recipe``, a path relative to this file), the arms (name -> stage-1 ``reward``: a
    preset name or RewardConfig fields), the seeds, and sections overlaid on the recipe's
    (``data``, ``sft``, ``stage1``, ``eval``, ``model``, ``threads``). ``eval.n`` unset in
    both: :data:`ABLATION_EVAL_N` held-out samples.

    Example:
        >>> ab = AblationConfig.model_validate({"recipe": "tiny-cpu.yaml",
        ...                                     "arms": {"stepwise": "execverify"}})
        >>> ab.seeds, ab.output_dir
        ([0, 1, 2], 'runs/ablation')
    """

    recipe: str
    arms: dict[str, str | dict[str, Any]]
    output_dir: str = "runs/ablation"
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    data: dict[str, Any] | None = None
    sft: dict[str, Any] | None = None
    stage1: dict[str, Any] | None = None
    eval: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    threads: int | None = None

    def overlays(self) -> dict[str, Any]:
        """The recipe sections this config sets (merged into the recipe's, key by key)."""
        return {k: getattr(self, k) for k in OVERLAID if getattr(self, k) is not None}


# The recipe sections an ablation config may overlay.
OVERLAID = ("data", "sft", "stage1", "eval", "model", "threads")
# Held-out samples per arm when neither config sets eval.n: more than the recipe's default,
# since the arms' differences are small.
ABLATION_EVAL_N = 64


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


SectionT = TypeVar("SectionT", bound=BaseModel)


def validate_section(model: type[SectionT], value: Any, source: str = "the config",
                     prefix: str = "") -> SectionT:
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
