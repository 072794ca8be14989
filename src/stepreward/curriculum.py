"""An online curriculum for GRPO: a sampler whose level mix follows the policy's accuracy.

:class:`Curriculum` serves rows of a synthesized dataset (or of a live synthesizer) level by
level. After each prompt's group of completions is scored it is told the rewards (and the
per-kind accuracies that :class:`stepreward.Score` reports as ``components``), keeps a moving
average of the accuracy per level and per question kind, and moves the level mix toward the
levels whose accuracy lies in a target band. An optional informative-group filter retires
prompts whose group rewards all agree (no GRPO signal) and draws others in their place.

The rules (also in ``docs/curriculum.md``):

1. A group's accuracy is the mean over its completions of the mean per-kind accuracy
   (``components`` minus ``format``); a completion without components counts its reward,
   clipped to [0, 1] (``signal="reward"`` always uses the reward).
2. Each level keeps an exponential moving average ``acc = (1 - alpha) * acc + alpha * x``
   over its groups, started at the first group's value.
3. A level with fewer than ``warmup`` groups counts as in the band. Otherwise its distance
   from the band is ``gap = max(low - acc, acc - high, 0)`` and its weight
   ``exp(-gap / temperature)``.
4. ``share = min_share + (1 - n_levels * min_share) * weight / sum(weights)``: every level
   keeps at least ``min_share``.
5. Each draw picks a level with the seeded generator by these shares, then the level's next
   row in a seeded shuffled order (reshuffled when it runs out). The shares are recomputed
   after every group, so the same seed and the same stream of draws and rewards give the
   same decisions.

Nothing here imports torch or a trainer: the adapters live in
``stepreward.integrations.trl_curriculum`` and ``stepreward.integrations.openrlhf.curriculum``.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stepreward.questions._sample import DEFAULT_KINDS

__all__ = ["KEY_COLUMN", "Curriculum", "CurriculumConfig", "synth_source"]

KEY_COLUMN = "curriculum_id"
"""The column every served row carries: the key to report its group's rewards under."""

_IGNORED_COMPONENTS = ("format",)


class CurriculumConfig(BaseModel):
    """How the mix follows the policy (frozen; see the module docstring for the rules).

    ``band`` is the target accuracy band, ``alpha`` the moving average's weight of a new
    group, ``warmup`` the groups a level needs before its accuracy counts, ``temperature``
    how sharply levels outside the band lose share, ``min_share`` the floor per level.
    ``filter_uniform`` turns on the informative-group filter: a prompt whose group rewards
    all lie within ``uniform_tol`` of each other is retired (not served again) and others
    are drawn in its place; ``max_filtered`` caps the retired fraction of each level's rows,
    so a level never runs dry and every batch fills.

    Example:
        >>> CurriculumConfig(band=(0.3, 0.7), min_share=0.1).alpha
        0.2
        >>> CurriculumConfig(band=(0.8, 0.2))
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for CurriculumConfig
          Value error, band must be (low, high) with 0 <= low < high <= 1, got (0.8, 0.2) ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    band: tuple[float, float] = (0.3, 0.7)
    alpha: float = Field(0.2, gt=0.0, le=1.0)
    warmup: int = Field(2, ge=0)
    temperature: float = Field(0.1, gt=0.0)
    min_share: float = Field(0.05, ge=0.0, lt=1.0)
    signal: Literal["components", "reward"] = "components"
    seed: int = 0
    filter_uniform: bool = False
    uniform_tol: float = Field(1e-6, ge=0.0)
    max_filtered: float = Field(0.5, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check_band(self) -> CurriculumConfig:
        low, high = self.band
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"band must be (low, high) with 0 <= low < high <= 1, got "
                             f"{self.band}")
        return self


class Curriculum:
    """A seeded sampler over levels whose mix moves toward a target accuracy band.

    ``rows``: dataset rows with an integer ``level`` column (the synthesis builder's rows,
    or :func:`stepreward.rows.sample_rows` of them, in any trainer's columns). Or ``source``: a live
    synthesizer, ``source(level, rng) -> row``, with ``levels`` to draw from. Served rows
    are copies with a :data:`KEY_COLUMN` column; report each group with :meth:`observe`.

    Example:
        >>> rows = [{"level": lv, "prompt": f"q{lv}.{i}"} for lv in (1, 2) for i in range(4)]
        >>> cur = Curriculum(rows, CurriculumConfig(warmup=1, min_share=0.1, seed=0))
        >>> row = cur.draw()
        >>> sorted(row)
        ['curriculum_id', 'level', 'prompt']
        >>> for _ in range(5):
        ...     _ = cur.observe(cur.draw(level=1)[KEY_COLUMN], [1.0, 1.0, 1.0, 1.0])
        ...     _ = cur.observe(cur.draw(level=2)[KEY_COLUMN], [0.0, 1.0, 1.0, 0.0])
        >>> cur.shares()[2] > 0.8
        True
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]] | None = None,
                 config: CurriculumConfig | Mapping[str, Any] | None = None, *,
                 source: Callable[[int, random.Random], Mapping[str, Any]] | None = None,
                 levels: Sequence[int] | None = None) -> None:
        if isinstance(config, Mapping):
            config = CurriculumConfig.model_validate(dict(config))
        if config is not None and not isinstance(config, CurriculumConfig):
            raise TypeError("config must be a CurriculumConfig or a mapping of its fields")
        self.config = config or CurriculumConfig()
        if (rows is None) == (source is None):
            raise ValueError("give either rows or a source (a live synthesizer), not both")
        self._pools: dict[int, list[Mapping[str, Any]]] = {}
        if rows is not None:
            for i, row in enumerate(rows):
                if not isinstance(row, Mapping):
                    raise TypeError(f"row {i} is a {type(row).__name__}, not a mapping")
                level = row.get("level")
                if isinstance(level, bool) or not isinstance(level, int):
                    raise ValueError(f"row {i} has no integer 'level' (got {level!r})")
                self._pools.setdefault(level, []).append(row)
            if levels is not None:
                self._pools = {lv: p for lv, p in self._pools.items() if lv in set(levels)}
            found = sorted(self._pools)
        else:
            if not callable(source):
                raise TypeError("source must be callable as source(level, rng) -> row")
            if not levels:
                raise ValueError("a live source needs the levels to draw from")
            found = sorted(dict.fromkeys(int(lv) for lv in levels))
        if not found:
            raise ValueError("no rows to draw from")
        if len(found) * self.config.min_share > 1.0:
            raise ValueError(f"min_share {self.config.min_share} is too large for "
                             f"{len(found)} levels (needs min_share * levels <= 1)")
        self.levels: tuple[int, ...] = tuple(found)
        self._source = source
        self._rng = random.Random(self.config.seed)
        self._order: dict[int, list[int]] = {lv: [] for lv in self.levels}
        self._retired: dict[int, set[int]] = {lv: set() for lv in self.levels}
        self._acc: dict[int, float] = {}
        self._count: Counter[int] = Counter()
        self._kind_acc: dict[str, float] = {}
        self._level_kind_acc: dict[tuple[int, str], float] = {}
        self._served: Counter[int] = Counter()
        self._live = 0
        self.groups = 0
        self.uniform = 0
        self.filtered = 0
        self.decisions: list[tuple[str, int]] = []  # ("draw", level) and ("filter", level)
        self._shares = self._compute_shares()

    # ----------------------------------------------------------------------- state
    def shares(self) -> dict[int, float]:
        """The current share of each level in the draws (sums to 1)."""
        return dict(self._shares)

    def accuracy(self) -> dict[int, float | None]:
        """The moving-average accuracy per level (None before its first group)."""
        return {lv: self._acc.get(lv) for lv in self.levels}

    def pool_sizes(self) -> dict[int, int]:
        """Rows per level (empty for a live source).

        Example:
            >>> Curriculum([{"level": 1}, {"level": 1}, {"level": 4}]).pool_sizes()
            {1: 2, 4: 1}
        """
        return {lv: len(p) for lv, p in sorted(self._pools.items())}

    def kind_accuracy(self) -> dict[str, float]:
        """The moving-average accuracy per question kind, over all levels."""
        return dict(sorted(self._kind_acc.items()))

    def metrics(self, prefix: str = "curriculum/") -> dict[str, float]:
        """State and decisions as flat numeric metrics, for a trainer's logs.

        Example:
            >>> cur = Curriculum([{"level": 1}, {"level": 2}])
            >>> sorted(cur.metrics())[:3]
            ['curriculum/filtered_fraction', 'curriculum/groups', 'curriculum/share/level_1']
        """
        out: dict[str, float] = {f"{prefix}groups": float(self.groups),
                                 f"{prefix}filtered_fraction": self.filtered / max(1, self.groups),
                                 f"{prefix}uniform_fraction": self.uniform / max(1, self.groups)}
        for lv in self.levels:
            out[f"{prefix}share/level_{lv}"] = self._shares[lv]
            if lv in self._acc:
                out[f"{prefix}accuracy/level_{lv}"] = self._acc[lv]
        for kind, acc in sorted(self._kind_acc.items()):
            out[f"{prefix}accuracy/kind_{kind}"] = acc
        for (lv, kind), acc in sorted(self._level_kind_acc.items()):
            out[f"{prefix}accuracy/level_{lv}/kind_{kind}"] = acc
        return out

    # ----------------------------------------------------------------------- drawing
    def draw(self, level: int | None = None) -> dict[str, Any]:
        """The next row: a level by the current shares (or ``level``), then a row of it.

        Example:
            >>> Curriculum([{"level": 3, "x": 1}]).draw()
            {'level': 3, 'x': 1, 'curriculum_id': '3:0'}
        """
        if level is None:
            level = self._pick_level()
        elif level not in self._shares:
            raise ValueError(f"level {level!r} is not one of {list(self.levels)}")
        self.decisions.append(("draw", level))
        self._served[level] += 1
        if self._source is not None:
            row = dict(self._source(level, self._rng))
            key = f"{level}:live{self._live}"
            self._live += 1
        else:
            i = self._next_index(level)
            row = dict(self._pools[level][i])
            key = f"{level}:{i}"
        row.setdefault("level", level)
        row[KEY_COLUMN] = key
        return row

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Endless draws (a trainer stops by its step count)."""
        while True:
            yield self.draw()

    def _pick_level(self) -> int:
        u = self._rng.random()
        acc = 0.0
        for lv in self.levels:
            acc += self._shares[lv]
            if u < acc:
                return lv
        return self.levels[-1]

    def _next_index(self, level: int) -> int:
        pool = self._pools[level]
        retired = self._retired[level]
        for _ in range(2):
            order = self._order[level]
            while order:
                i = order.pop()
                if i not in retired:
                    return i
            fresh = [i for i in range(len(pool)) if i not in retired]
            self._rng.shuffle(fresh)
            self._order[level] = fresh
        raise RuntimeError(f"every row of level {level} is retired")  # max_filtered < 1

    # ----------------------------------------------------------------------- feedback
    def observe(self, key: str, rewards: Sequence[float | None],
                components: Sequence[Mapping[str, float | None] | None] | None = None
                ) -> bool:
        """Report one prompt's group: its key (the row's :data:`KEY_COLUMN`), the rewards of
        its completions and, optionally, each completion's per-kind accuracies
        (:attr:`stepreward.Score.components`). Returns whether the prompt was retired by
        the informative-group filter. Rewards that are None (another reward's rows) are
        skipped; a group with none left is ignored.

        Example:
            >>> cur = Curriculum([{"level": 1}, {"level": 1}],
            ...                  CurriculumConfig(filter_uniform=True))
            >>> cur.observe(cur.draw()[KEY_COLUMN], [1.0, 1.0])
            True
        """
        level, index = _parse_key(key, self._shares)
        if index is not None and (self._source is not None
                                  or not 0 <= index < len(self._pools[level])):
            raise ValueError(f"key {key!r} names no row this curriculum served")
        pairs = [(float(r), (components[k] if components is not None
                             and k < len(components) else None))
                 for k, r in enumerate(rewards) if r is not None and math.isfinite(float(r))]
        if not pairs:
            return False
        xs = []
        kinds: dict[str, list[float]] = {}
        for reward, comp in pairs:
            per_kind = {k: float(v) for k, v in (comp or {}).items()
                        if v is not None and k not in _IGNORED_COMPONENTS}
            for k, v in per_kind.items():
                kinds.setdefault(k, []).append(v)
            if self.config.signal == "components" and per_kind:
                xs.append(sum(per_kind.values()) / len(per_kind))
            else:
                xs.append(min(1.0, max(0.0, reward)))
        x = sum(xs) / len(xs)
        a = self.config.alpha
        self._acc[level] = x if level not in self._acc else (1 - a) * self._acc[level] + a * x
        for k, vs in sorted(kinds.items()):
            v = sum(vs) / len(vs)
            self._kind_acc[k] = v if k not in self._kind_acc else (
                (1 - a) * self._kind_acc[k] + a * v)
            lk = (level, k)
            self._level_kind_acc[lk] = v if lk not in self._level_kind_acc else (
                (1 - a) * self._level_kind_acc[lk] + a * v)
        self._count[level] += 1
        self.groups += 1
        rs = [r for r, _ in pairs]
        retired = False
        if len(rs) > 1 and max(rs) - min(rs) <= self.config.uniform_tol:
            self.uniform += 1
            retired = self._retire(level, index)
        self._shares = self._compute_shares()
        return retired

    def observe_rows(self, keys: Sequence[str], rewards: Sequence[float | None],
                     components: Sequence[Mapping[str, float | None] | None] | None = None
                     ) -> int:
        """Report a batch in which the completions of each prompt share its key (TRL and
        OpenRLHF order them in consecutive groups; any order works). Returns the number
        of prompts retired.

        Example:
            >>> cur = Curriculum([{"level": 1}, {"level": 2}])
            >>> k1, k2 = cur.draw(level=1)[KEY_COLUMN], cur.draw(level=2)[KEY_COLUMN]
            >>> cur.observe_rows([k1, k1, k2, k2], [1.0, 0.0, 0.5, 0.5])
            0
            >>> cur.groups
            2
        """
        if len(keys) != len(rewards) or (components is not None
                                         and len(components) != len(keys)):
            raise ValueError("keys, rewards and components must have the same length")
        groups: dict[str, list[int]] = {}
        for k, key in enumerate(keys):
            groups.setdefault(str(key), []).append(k)
        retired = 0
        for key, idx in groups.items():
            retired += self.observe(key, [rewards[k] for k in idx],
                                    None if components is None else [components[k] for k in idx])
        return retired

    def _retire(self, level: int, index: int | None) -> bool:
        if not self.config.filter_uniform:
            return False
        if index is not None:  # a dataset row: retired only under the cap
            cap = math.floor(self.config.max_filtered * len(self._pools[level]))
            if index in self._retired[level] or len(self._retired[level]) >= cap:
                return False
            self._retired[level].add(index)
        # A live row is never served again anyway: "retired" is the count.
        self.filtered += 1
        self.decisions.append(("filter", level))
        return True

    def _compute_shares(self) -> dict[int, float]:
        c = self.config
        low, high = c.band
        weights = {}
        for lv in self.levels:
            if self._count[lv] < max(1, c.warmup) or lv not in self._acc:
                weights[lv] = 1.0
            else:
                acc = self._acc[lv]
                gap = max(low - acc, acc - high, 0.0)
                weights[lv] = math.exp(-gap / c.temperature)
        total = sum(weights.values())
        free = 1.0 - len(self.levels) * c.min_share
        return {lv: c.min_share + free * w / total for lv, w in weights.items()}

    # ----------------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot of the state and counts (for logs and checkpoints).

        Example:
            >>> sorted(Curriculum([{"level": 1}]).state())[:3]
            ['accuracy', 'config', 'filtered']
        """
        return {"config": self.config.model_dump(mode="json"), "levels": list(self.levels),
                "shares": {str(k): v for k, v in self._shares.items()},
                "accuracy": {str(k): v for k, v in self._acc.items()},
                "kind_accuracy": self.kind_accuracy(),
                "served": {str(k): v for k, v in sorted(self._served.items())},
                "groups": self.groups, "uniform": self.uniform, "filtered": self.filtered,
                "retired": {str(k): sorted(v) for k, v in self._retired.items()}}

    def __repr__(self) -> str:
        return (f"Curriculum(levels={list(self.levels)}, shares="
                f"{json.dumps({k: round(v, 3) for k, v in self._shares.items()})})")


def synth_source(*, kinds: Sequence[str] = DEFAULT_KINDS,
                 max_per_kind: int = 5, seed: int = 0, sandbox: Any = None,
                 system_prompt: str | None = None, trl: bool = False,
                 ) -> Callable[[int, random.Random], dict[str, Any]]:
    """A live synthesizer for :class:`Curriculum` (``source=``): each call makes a fresh,
    validated program of the level asked for, traces it and asks ``kinds`` about it.

    Each level has its own deterministic stream (seed ``seed + 1,000,003 * level``, as
    :func:`stepreward.synth.build_dataset`), so the rows depend only on how many of each
    level were drawn. Rows are the builder's (``messages``, ``label``, ``level``, ...);
    ``trl=True`` gives rows in TRL's columns (``prompt``, ``sample``, ``task``, ``level``:
    those of :func:`stepreward.integrations.trl.sample_rows`) instead.
    ``system_prompt`` defaults to the builder's.

    Example:
        >>> cur = Curriculum(source=synth_source(kinds=("output",), trl=True), levels=[1, 2])
        >>> row = cur.draw()
        >>> sorted(row)
        ['curriculum_id', 'level', 'prompt', 'sample', 'task']
    """
    from stepreward.questions._sample import sample_from_trace
    from stepreward.synth._dataset import SYSTEM_PROMPT, _row
    from stepreward.synth._pipeline import synthesize

    prompt = SYSTEM_PROMPT if system_prompt is None else system_prompt
    streams: dict[int, Iterator[Any]] = {}

    def source(level: int, rng: random.Random) -> dict[str, Any]:
        if level not in streams:
            streams[level] = synthesize(1 << 40, [level], seed=seed + 1_000_003 * level,
                                        sandbox=sandbox)
        for item in streams[level]:
            sample = sample_from_trace(item.trace, tuple(kinds), max_per_kind,
                                       seed=seed + item.index)
            if not sample.questions:
                continue
            row = _row(item, sample, prompt or None)
            if trl:
                from stepreward.rows import sample_rows

                (out,) = sample_rows([row], prompt or None)
                return {"prompt": out["prompt"], "sample": out["label"], "task": None,
                        "level": out["level"]}
            return row
        raise RuntimeError(f"the synthesizer ran out of level-{level} programs")

    return source


def _parse_key(key: str, shares: Mapping[int, float]) -> tuple[int, int | None]:
    if not isinstance(key, str) or ":" not in key:
        raise ValueError(f"not a curriculum key: {key!r} (use the row's {KEY_COLUMN!r})")
    head, tail = key.split(":", 1)
    try:
        level = int(head)
    except ValueError:
        raise ValueError(f"not a curriculum key: {key!r}") from None
    if level not in shares:
        raise ValueError(f"key {key!r} names level {level}, not one of {sorted(shares)}")
    if tail.startswith("live"):
        return level, None
    try:
        return level, int(tail)
    except ValueError:
        raise ValueError(f"not a curriculum key: {key!r}") from None
