"""reasoning-gym dataset ``stepreward_execverify``: execution questions graded by the sandbox.

Importing this module registers the dataset with reasoning-gym's ``register_dataset``, so its
own factory finds it::

    import reasoning_gym
    import stepreward.integrations.reasoning_gym  # noqa: F401  (registers the dataset)

    data = reasoning_gym.create_dataset("stepreward_execverify", levels=[1, 2, 3],
                                        kinds=["output", "input"], seed=0, size=100)
    entry = data[0]                      # {"question", "answer", "metadata"}
    data.score_answer(answer, entry)     # 1.0 right, 0.0 wrong, shares in between

Item *i* is built from ``Random(seed + i)`` alone (a synthesized program of one of the
levels, its traced call, one question kind drawn from ``kinds``), as reasoning-gym's own
datasets do, so items are reproducible and independent of the order they are read in.
``score_answer`` grades with :func:`stepreward.rewards.reward_for`: output and step answers
are compared as values, input answers by running the program on them in the sandbox, so
any arguments that give the asked output are right, not only the ones the item was built
from. The curriculum (``reasoning_gym.factory.create_curriculum("stepreward_execverify")``) has one
range attribute, ``level``, over the six program levels of ``docs/synthesis.md``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stepreward.integrations.tasks import (
    ALL_LEVELS,
    check_kinds,
    check_levels,
    generate_task,
    task_prompt,
)
from stepreward.types import Sample

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

try:
    from reasoning_gym.coaching import BaseCurriculum, RangeAttributeDefinition
    from reasoning_gym.dataset import ProceduralDataset
    from reasoning_gym.factory import DATASETS, register_dataset
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("stepreward.integrations.reasoning_gym needs reasoning-gym: "
                      "pip install 'stepreward[reasoning-gym]'") from exc

__all__ = ["DATASET_NAME", "ExecVerifyConfig", "ExecVerifyCurriculum", "ExecVerifyDataset",
           "make_entry", "register"]

DATASET_NAME = "stepreward_execverify"
_CACHE_ITEMS = 1024
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"


@dataclass
class ExecVerifyConfig:
    """What the dataset generates: the program ``levels`` (or the range ``min_level`` ..
    ``max_level``, which the curriculum sets), the question ``kinds`` an item may ask (one
    kind per item, up to ``max_per_kind`` questions of it), ``seed`` and ``size``.

    ``validate()`` raises ValueError with the reason, as reasoning-gym's factory expects.

    Example:
        >>> ExecVerifyConfig(levels=[2, 1]).effective_levels
        (1, 2)
        >>> ExecVerifyConfig(min_level=3, max_level=4).effective_levels
        (3, 4)
    """

    levels: Sequence[int] | None = None
    min_level: int = 1
    max_level: int = 6
    kinds: Sequence[str] = ("output", "input", "next_statement", "state")
    max_per_kind: int = 1
    seed: int | None = None
    size: int = 500
    reward_options: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_levels(self) -> tuple[int, ...]:
        """The levels items are drawn from."""
        if self.levels is not None:
            return check_levels(self.levels)
        return tuple(range(self.min_level, self.max_level + 1))

    def validate(self) -> None:
        """Raise ValueError when a field is out of range (reasoning-gym calls this)."""
        for name in ("min_level", "max_level", "max_per_kind", "size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if not (ALL_LEVELS[0] <= self.min_level <= self.max_level <= ALL_LEVELS[-1]):
            raise ValueError(f"min_level and max_level must satisfy {ALL_LEVELS[0]} <= "
                             f"min_level <= max_level <= {ALL_LEVELS[-1]}, got "
                             f"{self.min_level} and {self.max_level}")
        if self.levels is not None:
            if (self.min_level, self.max_level) != (ALL_LEVELS[0], ALL_LEVELS[-1]):
                raise ValueError("give either levels or min_level/max_level, not both")
            check_levels(self.levels)
        check_kinds(self.kinds)
        if self.max_per_kind < 1:
            raise ValueError(f"max_per_kind must be >= 1, got {self.max_per_kind}")
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if not isinstance(self.reward_options, dict):
            raise ValueError(f"reward_options must be a dict, got "
                             f"{type(self.reward_options).__name__}")


def _completion(answer: str) -> str:
    """reasoning-gym passes the text inside ``<answer>`` tags; the grader reads a block."""
    if _ANSWER_OPEN in answer and _ANSWER_CLOSE in answer:
        return answer
    return f"{_ANSWER_OPEN}\n{answer.strip()}\n{_ANSWER_CLOSE}"


class ExecVerifyDataset(ProceduralDataset):  # type: ignore[misc]  # untyped package
    """Questions about the execution of synthesized programs; ``score_answer`` runs the
    reward core (values compared without eval; input answers run in the sandbox).

    ``sandbox`` (not reasoning-gym's: pass it when constructing the class yourself) traces
    and grades in that sandbox instead of stepreward's default one, e.g. one with numpy
    preloaded for entries from :func:`make_entry` whose programs import it.

    Example:
        >>> data = ExecVerifyDataset(ExecVerifyConfig(levels=[1], kinds=["output"], seed=1,
        ...                                           size=2))
        >>> entry = data[0]
        >>> data.score_answer(entry["answer"], entry), data.score_answer("0", entry)
        (1.0, 0.0)
    """

    def __init__(self, config: ExecVerifyConfig, sandbox: Sandbox | None = None) -> None:
        super().__init__(config=config, seed=config.seed, size=config.size)
        self.sandbox = sandbox
        self._items: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def __getitem__(self, idx: int) -> dict[str, Any]:
        """Item ``idx``, built from ``Random(seed + idx)`` (cached)."""
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f"dataset indices are integers, got {type(idx).__name__}")
        if not -self.size <= idx < self.size:
            raise IndexError(f"index {idx} is out of range for a dataset of size {self.size}")
        idx %= self.size
        cached = self._items.get(idx)
        if cached is not None:
            self._items.move_to_end(idx)
            return _copy(cached)
        cfg: ExecVerifyConfig = self.config
        task = generate_task(self.seed + idx, cfg.effective_levels, check_kinds(cfg.kinds),
                             max_per_kind=cfg.max_per_kind, sandbox=self.sandbox)
        entry = _entry(task.sample, task.level, task.kinds, idx, cfg.reward_options)
        self._items[idx] = entry
        if len(self._items) > _CACHE_ITEMS:
            self._items.popitem(last=False)
        return _copy(entry)

    def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
        """The share of the entry's questions answered right, in [0, 1]; 0 for no answer.

        ``answer`` is the text inside the model's ``<answer>`` tags (what reasoning-gym's
        ``extract_answer`` gives), one line per question, or a completion with the tags.
        """
        if not isinstance(answer, str) or not answer.strip():
            return 0.0
        from stepreward.rewards import reward_for

        meta = entry.get("metadata") if isinstance(entry, dict) else None
        label = meta.get("label") if isinstance(meta, dict) else None
        if self.sandbox is not None:
            return reward_for(_completion(answer), label, sandbox=self.sandbox).score
        return reward_for(_completion(answer), label).score


def _entry(sample: Sample, level: int | None, kinds: Sequence[str], index: int,
           reward_options: dict[str, Any] | None = None) -> dict[str, Any]:
    row = sample.to_row()
    if reward_options:
        row["reward_options"] = dict(reward_options)
    return {
        "question": sample.prompt,
        "answer": "\n".join(sample.gold_answers()),
        "metadata": {
            "source_dataset": DATASET_NAME,
            "source_index": index,
            "level": level,
            "kinds": list(kinds),
            "label": json.dumps(row, ensure_ascii=False),
            "difficulty": {"level": level},
        },
    }


def make_entry(source: str, call: str, kind: str = "output", *, max_per_kind: int = 1,
               seed: int = 0, sandbox: Sandbox | None = None) -> dict[str, Any]:
    """An entry of this dataset's form for any program and call (the program is traced
    twice in the sandbox and must run the same both times), so that
    :meth:`ExecVerifyDataset.score_answer` grades answers about programs from elsewhere.
    Raises ValueError when the call cannot be traced or offers no question of ``kind``.

    Example:
        >>> e = make_entry("def f(x):\\n    return len(x)", "f('abc')", "input")
        >>> e["answer"], "f(??)" in e["question"]
        ("assert f('abc') == 3", True)
        >>> ExecVerifyDataset(ExecVerifyConfig()).score_answer("assert f('xyz') == 3", e)
        1.0
    """
    from stepreward.questions import build_sample

    kinds = check_kinds([kind])
    sample = build_sample(source, call, kinds, max_per_kind, seed=seed, sandbox=sandbox)
    sample = sample.model_copy(update={"prompt": task_prompt(sample)})
    return _entry(sample, None, kinds, 0)


def _copy(entry: dict[str, Any]) -> dict[str, Any]:
    meta = dict(entry["metadata"])
    meta["kinds"] = list(meta["kinds"])
    meta["difficulty"] = dict(meta["difficulty"])
    return {**entry, "metadata": meta}


class ExecVerifyCurriculum(BaseCurriculum):  # type: ignore[misc]  # untyped package
    """reasoning-gym curriculum over the program level: attribute ``level`` (a range
    attribute on ``min_level``/``max_level``, levels 1..6).

    Example:
        >>> c = ExecVerifyCurriculum()
        >>> c.set_attr_level("level", 2)
        >>> c.generate_configuration({"seed": 0}).effective_levels
        (1, 2, 3)
    """

    def __init__(self) -> None:
        super().__init__(ExecVerifyCurriculum.__name__, ExecVerifyConfig)
        self._define_attributes(
            RangeAttributeDefinition(
                name="level",
                levels=list(ALL_LEVELS),
                description="program level: control-flow depth, other methods, a helper "
                            "(docs/synthesis.md)",
                lower_field_name="min_level",
                upper_field_name="max_level",
            ),
        )


def register() -> None:
    """Register ``stepreward_execverify`` with reasoning-gym (importing this module does it;
    calling again is a no-op).

    Example:
        >>> register()
        >>> import reasoning_gym
        >>> reasoning_gym.create_dataset(DATASET_NAME, size=3, seed=0).size
        3
    """
    if DATASET_NAME in DATASETS:
        return
    register_dataset(DATASET_NAME, ExecVerifyDataset, ExecVerifyConfig, ExecVerifyCurriculum)


register()
