"""The online curriculum on OpenRLHF: a prompt dataset drawn by a :class:`Curriculum`, and a
data hook that reports every scored rollout back to it.

OpenRLHF 0.11 builds its prompt loader in ``openrlhf.trainer.ppo_trainer.prepare_datasets``
and turns each vLLM response (with its reward and ``extra_logs``) into an ``Experience`` in
``SamplesGenerator._process_response_into_experience``, both inside the PPO trainer's Ray
actor. :func:`install` wraps the two: the train loader draws from
:class:`CurriculumPromptDataset`, and every experience feeds :class:`CurriculumFeedback`
(one group per prompt, ``--rollout.n_samples_per_prompt`` rollouts) and carries the
curriculum's metrics in its ``info``, which OpenRLHF logs with the rest.

Run ``stepreward openrlhf-curriculum SPEC.json -- <train_ppo_ray arguments>`` (formerly
``python -m stepreward.integrations.openrlhf.curriculum``, still accepted): it starts Ray with
:func:`setup_from_env` as the workers' setup hook, then OpenRLHF's own ``train_ppo_ray``.
``SPEC.json`` is ``{"rows": "train.jsonl", "config": {...}}`` (the rows of ``stepreward
synth``, a :class:`CurriculumConfig`). With ``--algo.dynamic_filtering_enable`` OpenRLHF
replaces a filtered group at once with the next prompt, which the curriculum draws.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stepreward.curriculum import KEY_COLUMN, Curriculum, CurriculumConfig

__all__ = ["ENV_VAR", "CurriculumFeedback", "CurriculumPromptDataset", "install",
           "setup_from_env"]

log = logging.getLogger("stepreward.openrlhf")

ENV_VAR = "STEPREWARD_CURRICULUM"
"""The environment variable :func:`setup_from_env` reads: the path of the JSON spec."""


def _with_key(label: Any, key: str) -> str:
    data = json.loads(label) if isinstance(label, str) else label
    if not isinstance(data, Mapping):
        raise ValueError("curriculum rows need a JSON object label (a sample row), got "
                         f"{type(data).__name__}")
    return json.dumps({**data, KEY_COLUMN: key}, ensure_ascii=False)


def _key_of(label: Any) -> str | None:
    try:
        data = json.loads(label) if isinstance(label, str) else label
    except ValueError:
        return None
    key = data.get(KEY_COLUMN) if isinstance(data, Mapping) else None
    return key if isinstance(key, str) else None


class CurriculumPromptDataset:
    """OpenRLHF's ``PromptDataset`` interface over a curriculum: each item is drawn when the
    loader asks for it (the index is ignored) and prepared by OpenRLHF's own
    ``preprocess_data`` with the ``--data.*`` settings; the label gains the row's
    ``curriculum_id``. ``length`` is the number of items per epoch (default: the rows).

    Use it with ``dataloader_num_workers=0``: a worker process would draw from a copy of
    the curriculum that no feedback reaches.
    """

    def __init__(self, curriculum: Curriculum, tokenizer: Any, strategy: Any,
                 input_template: str | None = None, length: int | None = None) -> None:
        from openrlhf.datasets.prompts_dataset import preprocess_data

        if not isinstance(curriculum, Curriculum):
            raise TypeError("curriculum must be a stepreward.curriculum.Curriculum")
        data = strategy.args.data
        self.curriculum = curriculum
        self.tokenizer = tokenizer
        self.strategy = strategy
        self.input_template = input_template
        self.input_key = getattr(data, "input_key", None)
        self.label_key = getattr(data, "label_key", None)
        if self.label_key is None:
            raise ValueError("the curriculum needs --data.label_key (the sample label)")
        self.apply_chat_template = (tokenizer.apply_chat_template
                                    if getattr(data, "apply_chat_template", False) else None)
        self._preprocess = preprocess_data
        self.length = int(length if length is not None else
                          sum(curriculum.pool_sizes().values()) or 1)
        if self.length < 1:
            raise ValueError("length must be >= 1")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx: int) -> tuple[str, str, str, Any]:
        row = self.curriculum.draw()
        prompt, label = self._preprocess(row, self.input_template, self.input_key,
                                         self.label_key, self.apply_chat_template)
        return (str(row.get("datasource", "default")), prompt,
                _with_key(label, row[KEY_COLUMN]), None)

    def collate_fn(self, item_list: Sequence[tuple[str, str, str, Any]]) -> tuple[
            list[str], list[str], list[str], list[Any]]:
        """The same batch layout as OpenRLHF's ``PromptDataset.collate_fn``."""
        return ([i[0] for i in item_list], [i[1] for i in item_list],
                [i[2] for i in item_list], [i[3] for i in item_list])


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        if hasattr(value, "flatten"):
            value = value.flatten()[0]
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, Sequence) and not isinstance(value, str):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


class CurriculumFeedback:
    """Collects scored rollouts until a prompt's group is complete, then reports it.

    The accuracy of a stage-1 rollout is ``stepreward/output_accuracy`` from the reward
    file's (or server's) ``extra_logs`` (the kind ``output``); other rollouts count their
    reward.

    Example:
        >>> cur = Curriculum([{"level": 1, "label": "{}"}])
        >>> fb = CurriculumFeedback(cur, group_size=2)
        >>> key = cur.draw()[KEY_COLUMN]
        >>> fb.add(json.dumps({KEY_COLUMN: key}), 1.0)
        >>> fb.add(json.dumps({KEY_COLUMN: key}), 0.0)
        >>> cur.groups
        1
    """

    def __init__(self, curriculum: Curriculum, group_size: int) -> None:
        if group_size < 1:
            raise ValueError("group_size must be >= 1")
        self.curriculum = curriculum
        self.group_size = int(group_size)
        self._pending: dict[str, list[tuple[float, dict[str, float | None] | None]]] = {}

    def add(self, label: Any, reward: Any, extra_logs: Mapping[str, Any] | None = None
            ) -> None:
        """One scored rollout; never raises (a bad label or reward is skipped)."""
        key = _key_of(label)
        value = _number(reward)
        if key is None or value is None:
            return
        comps: dict[str, float | None] | None = None
        if extra_logs and _number(extra_logs.get("stepreward/stage1")) == 1.0:
            # step_accuracy is 0 for a sample without step questions as well: only the
            # output accuracy is unambiguous in the reward's logs.
            comps = {"output": _number(extra_logs.get("stepreward/output_accuracy"))}
        group = self._pending.setdefault(key, [])
        group.append((value, comps))
        if len(group) >= self.group_size:
            del self._pending[key]
            try:
                self.curriculum.observe(key, [r for r, _ in group], [c for _, c in group])
            except ValueError as exc:
                log.warning("curriculum could not observe %s: %r", key, exc)

    def add_experience(self, experience: Any) -> None:
        """One OpenRLHF ``Experience`` (a single rollout, as the samples generator makes)."""
        info = getattr(experience, "info", None) or {}
        reward = info.get("reward", info.get("score"))
        if reward is None:
            reward = getattr(experience, "rewards", None)
        labels = getattr(experience, "labels", None) or [None]
        self.add(labels[0], reward, info)

    def info(self) -> dict[str, float]:
        """The curriculum's metrics with a fixed set of keys (OpenRLHF concatenates the
        ``info`` of every experience by key): accuracy 0 before a level's first group."""
        metrics = self.curriculum.metrics()
        out = {k: v for k, v in metrics.items() if "/kind_" not in k}
        for lv in self.curriculum.levels:
            out.setdefault(f"curriculum/accuracy/level_{lv}", 0.0)
        return out


_ORIGINAL: dict[str, Any] = {}


def install(curriculum: Curriculum | Callable[[], Curriculum],
            group_size: int | None = None, *, datasets: bool = True) -> Callable[[], None]:
    """Wire a curriculum into OpenRLHF's PPO trainer in this process; returns an undo.

    ``curriculum`` may be a factory, called when OpenRLHF builds its datasets. The group
    size defaults to ``--rollout.n_samples_per_prompt``. The wrapped
    ``prepare_datasets`` replaces the train loader (the eval loader is kept);
    ``_process_response_into_experience`` feeds every rollout back. ``datasets=False``
    leaves the loaders alone (serve the curriculum's rows some other way, and give
    ``group_size`` and a built curriculum).
    """
    import torch
    from openrlhf.trainer.ppo_utils import samples_generator

    if datasets:  # before patching anything: the trainer module needs all of OpenRLHF
        from openrlhf.trainer import ppo_trainer
    if _ORIGINAL:
        raise RuntimeError("a curriculum is already installed (call the undo first)")
    state: dict[str, Any] = {}
    if not datasets:
        if not isinstance(curriculum, Curriculum) or group_size is None:
            raise ValueError("datasets=False needs a built curriculum and group_size")
        state["feedback"] = CurriculumFeedback(curriculum, group_size)
    original_process = samples_generator.SamplesGenerator._process_response_into_experience

    def prepare_datasets(strategy: Any, tokenizer: Any) -> Any:
        train, evaluation, max_steps = _ORIGINAL["prepare"](strategy, tokenizer)
        cur = curriculum if isinstance(curriculum, Curriculum) else curriculum()
        args = strategy.args
        dataset = CurriculumPromptDataset(cur, tokenizer, strategy,
                                          input_template=args.data.input_template,
                                          length=len(train.dataset))
        state["feedback"] = CurriculumFeedback(
            cur, group_size or int(args.rollout.n_samples_per_prompt))
        loader = strategy.setup_dataloader(dataset, 1, True, True, dataset.collate_fn,
                                           num_workers=0)
        return loader, evaluation, max_steps

    def process(self: Any, response: Any, **kwargs: Any) -> Any:
        experience = original_process(self, response, **kwargs)
        feedback: CurriculumFeedback | None = state.get("feedback")
        if feedback is not None:
            try:
                feedback.add_experience(experience)
                for k, v in feedback.info().items():
                    experience.info[k] = torch.tensor([v])
            except Exception as exc:  # the curriculum must never take training down
                log.warning("curriculum feedback failed: %r", exc)
        return experience

    _ORIGINAL["process"] = original_process
    samples_generator.SamplesGenerator._process_response_into_experience = process
    if datasets:
        _ORIGINAL["prepare"] = ppo_trainer.prepare_datasets
        ppo_trainer.prepare_datasets = prepare_datasets

    def undo() -> None:
        if "prepare" in _ORIGINAL:
            from openrlhf.trainer import ppo_trainer

            ppo_trainer.prepare_datasets = _ORIGINAL.pop("prepare")
        samples_generator.SamplesGenerator._process_response_into_experience = (
            _ORIGINAL.pop("process"))

    undo.state = state  # type: ignore[attr-defined]
    return undo


def _load_spec(path: str) -> tuple[list[dict[str, Any]], CurriculumConfig]:
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    if not isinstance(spec, dict) or "rows" not in spec:
        raise ValueError(f"{path}: the spec needs 'rows' (a JSONL file) and 'config'")
    with open(spec["rows"], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows, CurriculumConfig.model_validate(spec.get("config") or {})


def setup_from_env() -> None:
    """Ray's ``worker_process_setup_hook``: installs the curriculum named by
    :data:`ENV_VAR` (the spec is read when OpenRLHF builds its datasets, so only the PPO
    trainer's actor reads the rows). Does nothing without the variable."""
    path = os.environ.get(ENV_VAR)
    if not path or _ORIGINAL:
        return
    try:
        import openrlhf.trainer.ppo_trainer  # noqa: F401
    except ImportError:  # a worker without the trainer's dependencies: nothing to wire
        return

    def factory() -> Curriculum:
        rows, config = _load_spec(path)
        return Curriculum(rows, config)

    install(factory)


def main(argv: list[str] | None = None) -> int:
    """``stepreward openrlhf-curriculum SPEC.json -- ARGS``: OpenRLHF's ``train_ppo_ray``
    with ``ARGS``, its prompts drawn by the curriculum of ``SPEC.json``. A spec that cannot be
    read is one line on stderr and exit status 2, before Ray starts.

    Example:
        >>> main(["cur.json", "--", "--pretrain", "model"])  # doctest: +SKIP
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 1 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    spec = os.path.abspath(argv[0])
    rest = argv[1:]
    if rest and rest[0] == "--":
        rest = rest[1:]
    try:
        _load_spec(spec)  # fail here, not inside a Ray actor
    except (OSError, ValueError, KeyError) as exc:
        print(f"openrlhf-curriculum: {spec}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    import runpy

    import ray

    os.environ[ENV_VAR] = spec
    # OpenRLHF's own defaults, which it sets only when it starts Ray itself.
    env = {ENV_VAR: spec,
           "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "true"),
           "NCCL_DEBUG": os.environ.get("NCCL_DEBUG", "WARN"),
           "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": os.environ.get(
               "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS", "1")}
    ray.init(runtime_env={"env_vars": env,
                          "worker_process_setup_hook": f"{__name__}.setup_from_env"})
    sys.argv = ["train_ppo_ray", *rest]
    runpy.run_module("openrlhf.cli.train_ppo_ray", run_name="__main__")
    return 0

if __name__ == "__main__":
    from stepreward._compat import warn_renamed

    warn_renamed("python -m stepreward.integrations.openrlhf.curriculum",
                 "stepreward openrlhf-curriculum", stacklevel=2)
    sys.exit(main())
