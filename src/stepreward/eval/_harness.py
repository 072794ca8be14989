"""Evaluation runs: benchmark items, generation backends, grading with the reward code, reports."""

from __future__ import annotations

import json
import math
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward._compat import warn_renamed
from stepreward._jsonl import iter_jsonl
from stepreward._progress import Progress
from stepreward.eval import benches as _builtin  # noqa: F401  (registers the built-ins)
from stepreward.eval._bench import REGISTRY, Bench, EvalItem

if TYPE_CHECKING:
    from stepreward.synth._backends import Generator

__all__ = ["BENCHES", "DATA_LAYOUT", "EvalItem", "ReplayBackend", "bench_items", "data_path",
           "get_bench", "pass_at_k", "run_eval"]

DEFAULT_MAX_TOKENS = 12288  # the method's generation budget: long reasoning fits

#: The registered benchmarks' names, in order (one module each in eval/benches/).
BENCHES: tuple[str, ...] = tuple(REGISTRY)
#: Where each bench's data lies under a STEPREWARD_DATA folder: (sub-folder, file names tried
#: in order; the first that exists wins, else the only *.jsonl / *.jsonl.gz in the folder).
DATA_LAYOUT: dict[str, tuple[str, tuple[str, ...]]] = {
    name: bench.layout for name, bench in REGISTRY.items() if bench.layout is not None}


def get_bench(name: str) -> Bench:
    """The registered benchmark called ``name``.

    Example:
        >>> get_bench("mbpp-plus").family
        'mbpp'
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(REGISTRY)}") from None


def data_path(bench: str, data: str | os.PathLike[str] | None = None) -> str | None:
    """The local data file for a bench: ``data`` when given, else the bench's file under the
    ``STEPREWARD_DATA`` folder (layout in ``DATA_LAYOUT``), else None (the hub is tried).

    Example:
        >>> data_path("cruxeval-o", "my/cruxeval.jsonl")
        'my/cruxeval.jsonl'
    """
    if data:
        return os.fspath(data)
    root = os.environ.get("STEPREWARD_DATA")
    layout = REGISTRY[bench].layout if bench in REGISTRY else None
    if not root or layout is None:
        return None
    folder, names = layout
    base = Path(root) / folder
    for name in names:
        if (base / name).is_file():
            return str(base / name)
    found = sorted(p for p in base.glob("*.jsonl*") if p.name.endswith((".jsonl", ".jsonl.gz")))
    if len(found) == 1:
        return str(found[0])
    raise FileNotFoundError(
        f"STEPREWARD_DATA={root}: no data for {bench} (looked for "
        f"{', '.join(str(Path(folder, n)) for n in names)}"
        + (f"; {len(found)} JSONL files there, name one with --data" if found else "") + ")")
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al., 2021).

    Example:
        >>> round(pass_at_k(10, 3, 1), 3), pass_at_k(10, 0, 5), pass_at_k(2, 2, 1)
        (0.3, 0.0, 1.0)
    """
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def bench_items(bench: str, *, path: str | os.PathLike[str] | None = None,
                limit: int | None = None, seed: int = 0) -> list[EvalItem]:
    """The items of a benchmark (see ``BENCHES``); ``path`` points at local data (else the
    ``STEPREWARD_DATA`` folder, else the hub). A data file of another bench is a ValueError.

    Example:
        >>> bench_items("nope")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: unknown benchmark 'nope'
    """
    loader = get_bench(bench).load
    path = data_path(bench, path)
    try:
        return loader(path, limit, seed)
    except KeyError as exc:
        where = f"{path}" if path else "the hub data"
        raise ValueError(f"{where} does not look like {bench} data: its rows have no "
                         f"{exc.args[0]!r} field (is it another benchmark's file?)") from None


class ReplayBackend:
    """Completions read from a JSONL file (``{"id": ..., "completion": ...}`` per line).

    Example:
        >>> ReplayBackend.__name__
        'ReplayBackend'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.by_id: dict[str, list[str]] = defaultdict(list)
        for row in iter_jsonl(path):
            self.by_id[str(row["id"])].append(str(row["completion"]))

    def for_item(self, item_id: str, n: int) -> list[str]:
        return self.by_id.get(item_id, [])[:n] if n else self.by_id.get(item_id, [])


def _grade(item: EvalItem, completion: str, bench: str, prompt_format: str = "full",
           extraction: str = "strict") -> dict[str, Any]:
    from stepreward.rewards import reward_for

    if item.reval is not None:
        from stepreward.eval._reval import grade_reval

        return grade_reval(completion, item.reval)
    if item.sample is not None:
        policy = get_bench(bench).policy
        if prompt_format == "official":
            from stepreward.eval._official import official_answer, one_expression

            # Read as CRUXEval reads it, then graded like any answer to the question.
            answer = official_answer(bench, completion)
            if not one_expression(answer):
                # CRUXEval runs the text as it is: anything but one expression fails there.
                return {"correct": False, "parse_error": "the answer CRUXEval reads is not "
                        "one expression", "verdicts": [{"kind": q.kind, "status": "unparseable",
                                                        "correct": False}
                                                       for q in item.sample.questions]}
            completion = f"<answer>\n{answer}\n</answer>"
        r = reward_for(completion, item.sample, policy=policy, extraction=extraction)
        got = list(r.details.verdicts) if r.details is not None else []
        verdicts = [{"kind": q.kind, "status": v.status if v else "missing",
                     "correct": bool(v and v.correct)}
                    for q, v in zip(item.sample.questions,
                                    got + [None] * (len(item.sample.questions) - len(got)),
                                    strict=True)]
        return {"correct": r.correct, "verdicts": verdicts,
                "parse_error": r.details.parse_error if r.details is not None else r.reason}
    assert item.task is not None
    r = reward_for(completion, item.task, preset="all_or_nothing")
    report = r.details.report if r.details is not None else None
    return {"correct": r.correct, "passed": report.passed if report else 0,
            "total": report.total if report else len(item.task.tests),
            "parse_error": r.details.parse_error if r.details is not None else r.reason}


def _consistency(verdicts: list[dict[str, Any]]) -> float:
    """Share of an item's questions answered right before its first wrong answer (REval's
    incremental consistency, on the order the questions follow the run)."""
    run = 0
    for v in verdicts:
        if not v["correct"]:
            break
        run += 1
    return run / len(verdicts) if verdicts else 0.0


def run_eval(bench: str, out_dir: str | os.PathLike[str], *, backend: Generator | None = None,
             replay: str | os.PathLike[str] | None = None, data: str | None = None,
             samples: int | None = None, temperature: float = 0.0,
             max_tokens: int = DEFAULT_MAX_TOKENS, limit: int | None = None, seed: int = 0,
             progress: bool = False, batch_size: int = 32, prompt_format: str = "full",
             extraction: str = "strict", n: int | None = None) -> dict[str, Any]:
    """Generate (or replay) completions for a benchmark, grade them, and write the report.

    ``samples`` is the number of samples per item: 1 when generating, and every completion
    the file has for an item when replaying (``samples`` then caps it); ``n=`` is its older,
    deprecated name (``n`` counts items elsewhere, as in ``stepreward synth --n``). Items a
    replay file does not cover, and ids in it that no item has, are reported on stderr and in
    ``results.json``.

    Writes ``completions.jsonl`` (every completion with its verdicts; a rerun continues where
    an interrupted one stopped, with the prompt sent and why generation stopped),
    ``results.json``, ``report.md`` and ``chart.png``.

    ``prompt_format`` renders the prompts: ``full`` (the sample's own prompt), ``compact``
    (program, call and questions: what a model trained on compact prompts saw), or
    ``official`` (CRUXEval's own few-shot prompt and answer extraction, cruxeval-o/-i only,
    for numbers comparable with its leaderboard). ``extraction="lenient"`` also reads an
    answer block left open at the end, or else the last fenced block (see
    docs/scoring.md). Items are
    sent to the backend ``batch_size`` at a time and logged after each batch, so a failure
    (a :class:`GenerationError` from an endpoint, say) loses at most one batch.

    Example:
        >>> r = run_eval("cruxeval-o", "runs/eval-o", replay="gold.jsonl",
        ...              data="cruxeval.jsonl")  # doctest: +SKIP
        >>> r["pass@1"]  # doctest: +SKIP
        100.0
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if n is not None:
        if samples is not None:
            raise TypeError("run_eval() takes samples= or the older n=, not both")
        warn_renamed("run_eval(n=)", "run_eval(samples=)")
        samples = n
    if samples is not None and samples < 1:
        raise ValueError("samples must be at least 1")
    if backend is None and replay is None:
        raise ValueError("give a generation backend or a completions file to replay")
    if extraction not in ("strict", "lenient"):
        raise ValueError(f"extraction must be strict or lenient, got {extraction!r}")
    replayer = ReplayBackend(replay) if replay else None
    # Every check (and loading the data) happens before the output folder exists, so a run
    # refused for its arguments leaves nothing behind.
    items = _formatted(bench_items(bench, path=data, limit=limit, seed=seed), bench,
                       prompt_format)
    coverage: dict[str, Any] = {}
    if replayer is not None:
        ids = {it.id for it in items}
        missing = [it.id for it in items if not replayer.by_id.get(it.id)]
        unknown = sorted(set(replayer.by_id) - ids)
        if len(missing) == len(items) and items:
            raise ValueError(f"the completions file has no id of this {bench} run "
                             f"(its ids look like {', '.join(sorted(replayer.by_id)[:3])}; "
                             f"the bench's like {', '.join(it.id for it in items[:3])})")
        coverage = {"items_without_completions": len(missing),
                    "unknown_completion_ids": len(unknown)}
        if missing or unknown:
            coverage["warning"] = (
                f"the completions file covers {len(items) - len(missing)} of {len(items)} "
                "items; metrics are over those"
                + (f"; {len(unknown)} of its ids match no item" if unknown else ""))
            print(f"warning: {coverage['warning']}", file=sys.stderr)
        items = [it for it in items if replayer.by_id.get(it.id)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done: dict[str, list[dict[str, Any]]] = defaultdict(list)
    log_path = out / "completions.jsonl"
    if log_path.exists():
        for row in iter_jsonl(log_path):
            done[row["id"]].append(row)
    need = 1 if replayer else (samples or 1)
    todo = [it for it in items if len(done[it.id]) < need]
    # A tqdm bar on a terminal; whole lines, at most one every 10 s, in a log file.
    bar = Progress(len(todo), "items", desc=bench, enabled=progress)
    with log_path.open("a") as log_file:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            texts: list[list[str]] = []
            finish: list[list[str]] = []
            if replayer is not None:
                texts = [replayer.for_item(it.id, samples or 0) for it in chunk]
                finish = [["replayed"] * len(t) for t in texts]
            elif backend is not None:
                texts, finish = _generate(backend, [it.prompt for it in chunk], samples or 1,
                                          temperature, max_tokens, seed, prompt_format)
            for it, completions, why in zip(chunk, texts, finish, strict=True):
                for k, text in enumerate(completions):
                    row = {"id": it.id, "sample": k, "completion": text,
                           "finish": why[k] if k < len(why) else "unknown",
                           **_grade(it, text, bench, prompt_format, extraction),
                           "prompt": it.prompt, **({"meta": it.meta} if it.meta else {})}
                    done[it.id].append(row)
                    log_file.write(json.dumps(row) + "\n")
                log_file.flush()
            bar.update(start + len(chunk))
    bar.close()
    warning = coverage.pop("warning", None)
    results = {**_metrics(bench, items, done, samples), **coverage,
               "warnings": [warning] if warning else []}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "report.md").write_text(_report(results))
    _chart(results, out / "chart.png")
    return results


def _formatted(items: list[EvalItem], bench: str, prompt_format: str) -> list[EvalItem]:
    """The items with their prompts in ``prompt_format``."""
    import dataclasses

    from stepreward.questions._formats import PROMPT_FORMATS, render_as

    if prompt_format == "official":
        from stepreward.eval._official import OFFICIAL_BENCHES, official_prompt

        if bench not in OFFICIAL_BENCHES:
            raise ValueError(f"--prompt-format official exists for "
                             f"{', '.join(OFFICIAL_BENCHES)}, not {bench}")
        return [dataclasses.replace(it, prompt=official_prompt(
            bench, str(it.raw["code"]), str(it.raw["input"]), str(it.raw["output"])))
            for it in items if it.raw is not None]
    if prompt_format not in PROMPT_FORMATS:
        raise ValueError(f"unknown prompt format {prompt_format!r}; known: "
                         f"{', '.join((*PROMPT_FORMATS, 'official'))}")
    if prompt_format == "full":
        return items
    # Only the library's own question prompts have a compact form; code tasks keep theirs.
    return [dataclasses.replace(it, prompt=render_as(it.prompt, prompt_format))
            if it.sample is not None else it for it in items]


def _generate(backend: Generator, prompts: list[str], n: int, temperature: float,
              max_tokens: int, seed: int, prompt_format: str) -> tuple[list[list[str]],
                                                                        list[list[str]]]:
    """Completions and why each stopped (``unknown`` from a backend that does not say)."""
    detailed = getattr(backend, "generate_completions", None)
    if detailed is None:
        texts = backend.generate(prompts, n, temperature=temperature, max_tokens=max_tokens,
                                 seed=seed)
        return texts, [["unknown"] * len(t) for t in texts]
    stop: tuple[str, ...] = ("</answer>",)
    if prompt_format == "official":
        from stepreward.eval._official import OFFICIAL_STOP

        stop = (OFFICIAL_STOP,)
    rows = detailed(prompts, n, temperature=temperature, max_tokens=max_tokens, seed=seed,
                    stop=stop)
    return [[c.text for c in r] for r in rows], [[c.finish for c in r] for r in rows]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _metrics(bench: str, items: Sequence[EvalItem], done: dict[str, list[dict[str, Any]]],
             n: int | None) -> dict[str, Any]:
    # Every metric is over the same samples (all of each item's graded completions, capped
    # at n) with the same weights: each item's samples are averaged first, then the items.
    # So per-kind accuracy equals pass@1 on one-question benches, even when items have
    # different numbers of samples.
    per_item = []
    kind_acc: dict[str, list[float]] = defaultdict(list)
    level_acc: dict[str, list[float]] = defaultdict(list)
    unparsed: list[float] = []
    consistency: list[float] = []
    ic_sum = ic_probes = 0.0
    for it in items:
        rows = done.get(it.id, [])[:n] if n else done.get(it.id, [])
        if not rows:
            continue
        correct = sum(bool(r.get("correct")) for r in rows)
        per_item.append((len(rows), correct))
        kinds: dict[str, list[int]] = defaultdict(list)
        bad: list[int] = []
        cons: list[float] = []
        for r in rows:
            for v in r.get("verdicts", []):
                kinds[v["kind"]].append(int(v["correct"]))
                bad.append(int(v["status"] in ("unparseable", "missing")))
            if not r.get("verdicts") and "parse_error" in r:
                # Code benches: an unparsed answer is one with no code to run.
                bad.append(int(r["parse_error"] is not None))
            if r.get("reval_ic") is not None:
                ic_sum += r["reval_ic"] * r["reval_probes"]
                ic_probes += r["reval_probes"]
            if len(r.get("verdicts", [])) > 1:
                cons.append(_consistency(r["verdicts"]))
        for kind, hits in kinds.items():
            kind_acc[kind].append(_mean(hits))
        if bad:
            unparsed.append(_mean(bad))
        if cons:
            consistency.append(_mean(cons))
        if it.meta.get("level") is not None:
            level_acc[str(it.meta["level"])].append(correct / len(rows))
    n_max = max((m for m, _ in per_item), default=1)
    n_min = min((m for m, _ in per_item), default=1)
    ks = sorted({1, n_min} if n_min > 1 else {1})
    pass_k = {f"pass@{k}": 100.0 * sum(pass_at_k(m, c, min(k, m)) for m, c in per_item)
              / max(1, len(per_item)) for k in ks}
    return {
        "bench": bench, "items": len(items), "graded_items": len(per_item),
        "samples_per_item": n_min if n_min == n_max else f"{n_min}-{n_max}",
        "samples_graded": sum(m for m, _ in per_item), **pass_k,
        "accuracy_per_kind": {k: 100.0 * _mean(v) for k, v in sorted(kind_acc.items())},
        "accuracy_per_level": {k: 100.0 * _mean(v) for k, v in sorted(level_acc.items())},
        "unparsed_rate": 100.0 * _mean(unparsed) if unparsed else 0.0,
        "consistency": 100.0 * _mean(consistency) if consistency else None,
        **({"reval_consistency": 100.0 * ic_sum / ic_probes} if ic_probes else {}),
    }


def _report(r: dict[str, Any]) -> str:
    lines = [f"# {r['bench']}", "",
             f"{r['graded_items']} of {r['items']} items graded, {r['samples_per_item']} "
             "sample(s) each.", "", "| metric | value |", "|---|---|"]
    for key in sorted(k for k in r if k.startswith("pass@")):
        lines.append(f"| {key} | {r[key]:.1f}% |")
    lines.append(f"| unparsed answers | {r['unparsed_rate']:.1f}% |")
    if r.get("consistency") is not None:
        lines.append(f"| consistency (stepreward: right before the first wrong) | "
                     f"{r['consistency']:.1f}% |")
    if r.get("reval_consistency") is not None:
        lines.append(f"| incremental consistency (REval's IC) | "
                     f"{r['reval_consistency']:.1f}% |")
    for title, key in (("question kind", "accuracy_per_kind"), ("level", "accuracy_per_level")):
        if r[key]:
            lines += ["", f"| {title} | accuracy |", "|---|---|"]
            lines += [f"| {k} | {v:.1f}% |" for k, v in r[key].items()]
    return "\n".join(lines) + "\n"


def _chart(r: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    labels = [k for k in r if k.startswith("pass@")] + list(r["accuracy_per_kind"])
    values = [r[k] for k in r if k.startswith("pass@")] + list(r["accuracy_per_kind"].values())
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(labels, values)
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title(r["bench"])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
