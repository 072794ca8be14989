"""The method's recipe around the core: stage-2 data, its reward, and contamination checks.

Shared by the TRL recipe (``recipe.py``), the OpenRLHF reward path and the scripts in
``integrations/``; ``docs/recipe.md`` lists every setting next to the file that sets it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward.types import CodeTask

if TYPE_CHECKING:
    from stepreward.codegen import CodeScore
    from stepreward.sandbox._pool import Sandbox

__all__ = ["PRIME_DATASET", "STAGE2_INSTRUCTION", "ContaminationError", "benchmark_tasks_ids",
           "check_contamination", "code_spec", "dataset_options", "drop_long_prompts",
           "effective_settings",
           "eval_benchmarks", "format_settings", "load_code_tasks", "load_prime_rows",
           "method_code_reward", "stage_rewards"]

PRIME_DATASET = "PRIME-RL/Eurus-2-RL-Data"
# Our wording of the method's stage-2 instruction (reason, check against the examples, then
# one python block inside the answer tags).
STAGE2_INSTRUCTION = (
    "Solve the problem above in Python. Check your program against the example inputs and "
    "outputs given in the problem before you answer. Put your step-by-step reasoning "
    "between <reasoning> and </reasoning>, then the complete program in one ```python block "
    "between <answer> and </answer>.")
# Benchmark families: a training task from the same family is contamination even when the
# benchmark's own file is not at hand to compare ids.
_FAMILIES = {"mbpp-plus": "mbpp", "mbpp": "mbpp", "humaneval-plus": "humaneval",
             "humaneval": "humaneval", "cruxeval": "cruxeval", "cruxeval-o": "cruxeval",
             "cruxeval-i": "cruxeval", "livecodebench": "livecodebench",
             "lcb-exec": "livecodebench", "bigcodebench": "bigcodebench"}


class ContaminationError(ValueError):
    """A training set shares tasks with an evaluation benchmark."""


# ------------------------------------------------------------------------------ stage-2 reward


def method_code_reward(completion: Any, task: CodeTask, *, format_bonus: float = 0.05,
                       partial_tests: int = 10, timeout_s: float = 1.0,
                       sandbox: Sandbox | None = None,
                       partial_seed: int | None = None) -> CodeScore:
    """The method's stage-2 reward: the ``method`` preset of :mod:`stepreward.presets` (1 when
    every test passes, else the pass rate over the first ``partial_tests`` tests, plus
    ``format_bonus`` when above 0), as a ``CodeScore``. ``partial_seed`` pays the pass rate
    over ``partial_tests`` tests drawn per task with that seed instead of the first ones
    (which are usually the prompt's examples). Never raises.

    Example:
        >>> from stepreward.types import TestCase
        >>> t = CodeTask(task_id="t", prompt="", tests=[TestCase.call("sq", (3,), 9)])
        >>> method_code_reward("<answer>\\n```python\\ndef sq(x):\\n    return x * x\\n```"
        ...                    "\\n</answer>", t).reward
        1.05
    """
    from stepreward.codegen import CodeScore
    from stepreward.rewards import reward_for

    r = reward_for(completion, task, preset="method", format_bonus=format_bonus,
                   partial_tests=partial_tests, timeout_s=timeout_s, sandbox=sandbox,
                   partial_seed=partial_seed)
    if r.details is not None:
        return r.details  # type: ignore[no-any-return]
    return CodeScore(0.0, None, None, r.reason)


# ------------------------------------------------------------------------------ stage-2 data


def _read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    if p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise RuntimeError("reading parquet needs pyarrow: pip install pyarrow") from None
        return list(pq.read_table(p).to_pylist())
    if p.suffix == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
        return list(data) if isinstance(data, list) else [data]
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_prime_rows(path: str | os.PathLike[str] | None = None, *,
                    splits: Sequence[str] = ("train", "validation"),
                    ability: str = "code") -> list[dict[str, Any]]:
    """Rows of Eurus-2-RL-Data (PRIME) with ``ability == "code"``, from a local file (JSONL,
    JSON or parquet) or, without one, from the hub (``datasets``; the method uses its train
    and validation splits). Prompts keep only the user turn, as the method does.

    Example:
        >>> rows = load_prime_rows("eurus-code.jsonl")  # doctest: +SKIP
    """
    if path:
        rows = _read_rows(path)
    else:
        try:
            import datasets
        except ImportError:
            raise FileNotFoundError(f"no local file given and the `datasets` package is not "
                                    f"installed to fetch {PRIME_DATASET}") from None
        rows = []
        for split in splits:
            try:
                rows.extend(dict(r) for r in datasets.load_dataset(PRIME_DATASET, split=split))
            except Exception as exc:
                raise FileNotFoundError(f"could not load {PRIME_DATASET} ({split}) from the "
                                        f"hub ({exc}); give a local path") from None
    out = []
    for i, r in enumerate(rows):
        if r.get("ability", ability) != ability:
            continue
        prompt = r.get("prompt")
        if isinstance(prompt, list):
            user = [m.get("content", "") for m in prompt
                    if isinstance(m, dict) and m.get("role") == "user"]
            prompt = "\n".join(user) if user else prompt
        extra = r.get("extra_info") or {}
        ident = r.get("id") or r.get("task_id") or (
            f"{r.get('data_source', 'prime')}/{extra.get('split', '')}/{extra.get('index', i)}"
            if isinstance(extra, dict) else f"prime/{i}")
        out.append({**r, "prompt": prompt, "id": str(ident)})
    return out


def load_code_tasks(spec: Mapping[str, Any], *, seed: int = 0,
                    sandbox: Sandbox | None = None) -> list[CodeTask]:
    """Stage-2 training tasks as a config's ``data.code`` section describes them.

    ``source: prime`` (the method: Eurus-2-RL-Data code tasks from ``path`` or the hub),
    ``synth`` (tasks made from synthesized programs, for CPU demos) or ``mbpp-plus`` (only
    with ``force_contaminated``: it is an evaluation benchmark). ``n`` caps the count.

    Example:
        >>> tasks = load_code_tasks({"source": "synth", "n": 4, "levels": [2]})  # doctest: +SKIP
    """
    source = spec.get("source", "synth")
    n = spec.get("n")
    if source == "prime":
        from stepreward.eval._tasks import load_prime_code

        tasks = [t for t in load_prime_code(load_prime_rows(spec.get("path"))) if t.tests]
    elif source == "synth":
        from stepreward.eval._tasks import tasks_from_synth
        from stepreward.synth._pipeline import synthesize

        want = int(n or 64)
        items = list(synthesize(2 * want, levels=spec.get("levels", [2, 3]),
                                seed=int(spec.get("seed", seed + 1)), sandbox=sandbox))
        # Each task shows one call and is tested on every call of its program.
        tasks = tasks_from_synth(items)
    elif source == "mbpp-plus":
        from stepreward.eval._tasks import load_mbpp_plus

        tasks = load_mbpp_plus(spec.get("path"), plus=False)
    else:
        raise ValueError(f"data.code.source must be prime, synth or mbpp-plus, got {source!r}")
    return tasks[:n] if n else tasks


# ------------------------------------------------------------------------------ contamination


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def benchmark_tasks_ids(name: str, path: str | os.PathLike[str] | None = None
                        ) -> tuple[set[str], set[str]]:
    """Task ids and normalised prompts of an eval benchmark's file (JSONL, gz or parquet);
    two empty sets without a file (the benchmark's family still counts, see
    :func:`check_contamination`).

    Example:
        >>> benchmark_tasks_ids("mbpp-plus")
        (set(), set())
    """
    if not path or not Path(path).exists():
        return set(), set()
    ids, prompts = set(), set()
    for r in _read_rows(path):
        ident = r.get("task_id", r.get("id"))
        if ident is not None:
            ids.add(str(ident).lower())
        for key in ("prompt", "code", "question_content"):
            if isinstance(r.get(key), str) and r[key].strip():
                prompts.add(_norm(r[key]))
    return ids, prompts


def check_contamination(tasks: Iterable[CodeTask],
                        benchmarks: Mapping[str, str | os.PathLike[str] | None], *,
                        force: bool = False) -> list[str]:
    """Refuse training tasks that overlap the chosen eval benchmarks.

    ``benchmarks`` maps a benchmark name (``mbpp-plus``, ``humaneval-plus``, ``cruxeval``,
    ...) to its data file or None. A task overlaps when its id or its prompt (whitespace
    aside) is in the benchmark's file, or when it comes from the benchmark's family (its
    ``source`` or id prefix, e.g. ``mbppplus``, ``Mbpp/2``). Raises
    :class:`ContaminationError` naming the overlap, unless ``force``; returns the
    overlapping task ids.

    Example:
        >>> check_contamination([CodeTask(task_id="synth/1", prompt="p", source="synth")],
        ...                     {"mbpp-plus": None})
        []
    """
    found: dict[str, list[str]] = {}
    tasks = list(tasks)
    for name, path in benchmarks.items():
        ids, prompts = benchmark_tasks_ids(name, path)
        family = _FAMILIES.get(name.lower())
        hits = []
        for t in tasks:
            tid = t.task_id.lower()
            if (tid in ids or _norm(t.prompt) in prompts or (family is not None and (
                    t.source.lower().startswith(family) or tid.startswith(family)))):
                hits.append(t.task_id)
        if hits:
            found[name] = hits
    overlap = sorted({h for hits in found.values() for h in hits})
    if found and not force:
        detail = "; ".join(f"{name}: {len(h)} tasks (e.g. {', '.join(h[:3])})"
                           for name, h in found.items())
        raise ContaminationError(
            f"the stage-2 training set overlaps the evaluation benchmarks ({detail}). Train on "
            f"other tasks (data.code.source: prime or synth), drop those benchmarks from "
            f"eval.benchmarks, or set data.code.force_contaminated: true to train anyway.")
    return overlap


# ------------------------------------------------------------------------------ configs

# The eval benchmarks a stage-2 set is checked against when a config names none.
DEFAULT_BENCHMARKS: dict[str, str | None] = {"mbpp-plus": None, "humaneval-plus": None,
                                             "cruxeval": None}


def code_spec(code: Mapping[str, Any]) -> dict[str, Any]:
    """A config's ``data.code`` section with the old ``mbpp_plus_path`` key read as
    ``source: mbpp-plus`` (which the contamination check then refuses unless forced)."""
    spec = dict(code)
    if "source" not in spec:
        if spec.get("easy"):
            spec["source"] = "easy"  # the recipe's own arithmetic tasks (easy_code_tasks)
        elif spec.get("mbpp_plus_path"):
            spec.update(source="mbpp-plus", path=spec["mbpp_plus_path"])
        else:
            spec["source"] = "synth"
    return spec


def eval_benchmarks(cfg: Mapping[str, Any]) -> dict[str, str | None]:
    """``eval.benchmarks`` of a recipe config (name -> data file or null), or the defaults."""
    chosen = (cfg.get("eval") or {}).get("benchmarks")
    if chosen is None:
        return dict(DEFAULT_BENCHMARKS)
    if isinstance(chosen, list):
        return dict.fromkeys((str(c) for c in chosen), None)
    if not isinstance(chosen, dict):
        raise ValueError("eval.benchmarks must be a list of names or a mapping name -> path")
    return {str(k): (str(v) if v else None) for k, v in chosen.items()}


def _backend(spec: Mapping[str, Any], what: str) -> Any:
    from stepreward.synth._backends import OpenAICompatible

    if not spec.get("endpoint"):
        raise ValueError(f"data.{what} needs an endpoint (an OpenAI-compatible server URL, "
                         f"e.g. a vLLM server of the model)")
    return OpenAICompatible(str(spec["endpoint"]), model=str(spec.get("model", "default")),
                            max_concurrency=int(spec.get("max_concurrency", 8)))


def dataset_options(d: Mapping[str, Any]) -> dict[str, Any]:
    """``build_dataset`` keyword arguments from a config's ``data`` section: ``input_share``,
    ``validation_fraction``, ``difficulty`` (``{endpoint, model, n, max_pass,
    temperature}``), ``solver`` (``{endpoint, model, n, temperature}`` or ``narration``),
    ``filter_max_tokens``.

    Example:
        >>> dataset_options({"input_share": 0.375, "solver": "narration"})["solver"]
        'narration'
    """
    from stepreward.synth._model import DifficultyFilter

    out: dict[str, Any] = {"input_share": float(d.get("input_share", 0.0))}
    if "validation_fraction" in d:
        out["validation_fraction"] = float(d["validation_fraction"])
    if "filter_max_tokens" in d:
        out["filter_max_tokens"] = int(d["filter_max_tokens"])
    diff = d.get("difficulty")
    if diff:
        out["difficulty"] = _backend(diff, "difficulty")
        out["difficulty_filter"] = DifficultyFilter(
            n=int(diff.get("n", 10)), max_pass=int(diff.get("max_pass", 3)),
            temperature=float(diff.get("temperature", 1.0)))
    solver = d.get("solver")
    if solver == "narration":
        out["solver"] = "narration"
    elif solver:
        if not isinstance(solver, Mapping):
            raise ValueError("data.solver must be 'narration' or {endpoint, model, ...}")
        out["solver"] = _backend(solver, "solver")
        tries = int(solver.get("n", 1))
        out["solver_filter"] = DifficultyFilter(n=tries, max_pass=tries,
                                                temperature=float(solver.get("temperature",
                                                                             0.6)))
    return out


def stage_rewards(cfg: Mapping[str, Any], stage: str) -> list[Any]:
    """The TRL reward functions a recipe config gives a GRPO stage, each a thin call into
    :func:`stepreward.rewards.reward_for`.

    ``stage1``: :class:`ExecutionReward` with the config's ``reward`` preset (a name in
    :data:`stepreward.presets.PRESETS` or RewardConfig fields); ``stage2``:
    :class:`UnitTestReward` (``partial_tests`` and ``format_bonus`` give the ``method``
    preset, ``partial_seed`` its seeded draw of the tests; else ``partial``). Both add
    :class:`FormatReward` — shaping beyond the method —
    unless ``format_reward: false`` (the paper configs).

    Example:
        >>> [r.__name__ for r in stage_rewards({"stage1": {"format_reward": False}}, "stage1")]
        ['stepreward_execution']
    """
    from stepreward.integrations.trl import (
        ExecutionReward,
        FormatReward,
        UnitTestReward,
    )

    st = dict(cfg.get(stage) or {})
    rewards: list[Any]
    if stage == "stage1":
        spec = st.get("reward") or "normalized"
        if isinstance(spec, Mapping):  # RewardConfig fields, e.g. an ablation's alpha/gate
            from stepreward.types import RewardConfig

            spec = RewardConfig(**spec)
        rewards = [ExecutionReward(reward=spec, policy=st.get("policy", "literal"),
                                   extraction=st.get("extraction") or "strict")]
    elif stage == "stage2":
        rewards = [UnitTestReward(format_bonus=st.get("format_bonus", 0.0),
                                  timeout_s=st.get("test_timeout_s", 1.0),
                                  partial_tests=st.get("partial_tests"),
                                  partial_seed=st.get("partial_seed"))]
    else:
        raise ValueError(f"stage must be stage1 or stage2, got {stage!r}")
    if st.get("format_reward", True):
        rewards.append(FormatReward())
    return rewards


def drop_long_prompts(rows: Sequence[Mapping[str, Any]], tokenizer: Any,
                      max_tokens: int) -> list[Any]:
    """Rows whose ``prompt`` (chat messages, rendered with the tokenizer's template, or
    text) has at most ``max_tokens`` tokens: the method drops longer prompts, and TRL 1.x no
    longer cuts them.

    Example:
        >>> drop_long_prompts([], None, 2048)
        []
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")

    def n_tokens(prompt: Any) -> int:
        text = prompt if isinstance(prompt, str) else tokenizer.apply_chat_template(
            prompt, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return [r for r in rows if n_tokens(r["prompt"]) <= max_tokens]


# What the TRL recipe sets itself around each stage's `config` (see recipe.py).
_RECIPE_FIXED = {"report_to": "none", "save_strategy": "no"}


def effective_settings(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every setting a recipe config leads to, per stage: TRL's defaults overlaid with the
    config (what ``PRINT_ARGS=1`` prints), plus the data and reward options.

    Example:
        >>> s = effective_settings({"sft": {"config": {"num_train_epochs": 2}}})
        >>> s["sft"]["num_train_epochs"], s["sft"]["lr_scheduler_type"]
        (2, 'linear')
    """
    import dataclasses

    from stepreward.synth._dataset import SYSTEM_PROMPT

    out: dict[str, dict[str, Any]] = {}
    d = dict(cfg.get("data") or {})
    out["data"] = {k: v for k, v in d.items() if k != "code"}
    out["data"]["code"] = code_spec(d.get("code", {}))
    out["data"]["system_prompt"] = cfg.get("system_prompt", SYSTEM_PROMPT)
    out["data"]["eval_benchmarks"] = eval_benchmarks(cfg)
    out["model"] = dict(cfg.get("model") or {})
    out["eval"] = {k: v for k, v in (cfg.get("eval") or {}).items() if k != "benchmarks"}
    try:
        import trl
    except ImportError:  # pragma: no cover - the trl extra is missing
        trl = None
    for stage, klass in (("sft", "SFTConfig"), ("stage1", "GRPOConfig"),
                         ("stage2", "GRPOConfig")):
        st = dict(cfg.get(stage) or {})
        values: dict[str, Any] = {}
        if trl is not None:
            for f in dataclasses.fields(getattr(trl, klass)):
                if f.default is not dataclasses.MISSING:
                    values[f.name] = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    values[f.name] = f.default_factory()
        values.update(_RECIPE_FIXED, seed=cfg.get("seed", 0))
        given = dict(st.get("config") or {})
        unknown = sorted(k for k in given if trl is not None and k not in values)
        if unknown:
            raise ValueError(f"{stage}.config has settings that trl {trl.__version__}'s "
                             f"{klass} does not know: {unknown}")
        values.update(given)
        if stage == "stage1":
            values["reward"] = st.get("reward", "normalized")
            values["policy"] = st.get("policy", "literal")
            if st.get("curriculum") is not None:  # validated here, before any work
                from stepreward.integrations.trl_curriculum import curriculum_from_config

                cc = curriculum_from_config(st["curriculum"], seed=cfg.get("seed", 0))
                values["curriculum"] = None if cc is None else cc.model_dump(mode="json")
        if stage == "stage2":
            values["format_bonus"] = st.get("format_bonus", 0.0)
            values["partial_tests"] = st.get("partial_tests")
            values["partial_seed"] = st.get("partial_seed")
            values["test_timeout_s"] = st.get("test_timeout_s", 1.0)
            values["instruction"] = st.get("instruction", "default")
        if stage != "sft":
            values["format_reward"] = st.get("format_reward", True)
            values["max_prompt_tokens"] = st.get("max_prompt_tokens")
        out[stage] = values
    return out


_PRINTED = ("num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type",
            "warmup_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
            "max_length", "max_completion_length", "max_prompt_tokens", "num_generations",
            "generation_batch_size", "steps_per_generation", "temperature", "top_p", "beta",
            "epsilon", "loss_type", "scale_rewards", "bf16", "gradient_checkpointing",
            "assistant_only_loss", "use_vllm", "seed", "reward", "policy", "format_reward",
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


def main(argv: list[str] | None = None) -> int:
    """``python -m stepreward.integrations.paper code-rows ...``: stage-2 rows for OpenRLHF
    (system prompt, the method's instruction, reward options in each label), after the
    contamination check."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m stepreward.integrations.paper")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("code-rows", help="write stage-2 code-task rows for OpenRLHF")
    p.add_argument("--source", default="prime", choices=("prime", "synth", "mbpp-plus"))
    p.add_argument("--path", help="local data file (default: the hub for prime)")
    p.add_argument("--n", type=int, help="at most this many tasks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output JSONL")
    from stepreward.presets import preset_names

    p.add_argument("--reward-preset", default="method", choices=preset_names("code"),
                   help="stage-2 reward preset written into each label (default: the "
                        "method's)")
    p.add_argument("--partial-tests", type=int, default=10,
                   help="the method preset: tests counted for partial credit")
    p.add_argument("--partial-seed", type=int,
                   help="the method preset: draw the partial-credit tests per task with this "
                        "seed instead of taking the first ones (the prompt's examples)")
    p.add_argument("--format-bonus", type=float, default=0.05)
    p.add_argument("--benchmark", action="append", default=[], metavar="NAME=PATH",
                   help="an eval benchmark to check overlap with (repeat); PATH may be empty")
    p.add_argument("--force-contaminated", action="store_true",
                   help="write the rows even if they overlap the benchmarks")
    args = ap.parse_args(argv)
    from stepreward.integrations.openrlhf import code_task_rows
    from stepreward.synth._dataset import SYSTEM_PROMPT

    benchmarks: dict[str, str | None] = {}
    for item in args.benchmark:
        name, _, path = item.partition("=")
        benchmarks[name.strip()] = path.strip() or None
    try:
        tasks = load_code_tasks({"source": args.source, "path": args.path, "n": args.n},
                                seed=args.seed)
        check_contamination(tasks, benchmarks or DEFAULT_BENCHMARKS,
                            force=args.force_contaminated)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"code-rows: {exc}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {"preset": args.reward_preset, "format_bonus": args.format_bonus}
    if args.reward_preset == "method":
        options["partial_tests"] = args.partial_tests
        if args.partial_seed is not None:
            options["partial_seed"] = args.partial_seed
    rows = code_task_rows(tasks, STAGE2_INSTRUCTION, system_prompt=SYSTEM_PROMPT,
                          reward_options=options)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} stage-2 rows written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
