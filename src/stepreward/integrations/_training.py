"""What every training stage of the recipe shares: loading a model, LoRA, trainer settings, SFT
examples that work with any chat template, and checkpoints that remember their prompt format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["FIXED_SETTINGS", "PROMPT_FILE", "load_model", "peft_config", "prompt_format_of",
           "save_checkpoint", "sft_dataset", "trainer_settings"]

# Settings the recipe decides for each stage; a stage's `config` may not override them.
FIXED_SETTINGS: dict[str, str] = {
    "output_dir": "each stage writes into its own folder under the run's output folder",
    "seed": "set the top-level `seed` of the config instead",
    "remove_unused_columns": "the reward functions read the label columns",
}
# Defaults a stage's `config` may override (report_to: tensorboard, save_strategy: steps, ...).
DEFAULT_SETTINGS: dict[str, Any] = {"report_to": "none", "save_strategy": "no"}

PROMPT_FILE = "stepreward-prompt.json"


def trainer_settings(stage: str, given: dict[str, Any] | None, folder: Path, seed: int,
                     **fixed: Any) -> dict[str, Any]:
    """The keyword arguments of a stage's TRL config: the recipe's fixed settings, its
    overridable defaults, then the stage's own ``config``; a fixed one given is refused.

    Example:
        >>> trainer_settings("sft", {"report_to": "tensorboard"}, Path("out"), 0)["report_to"]
        'tensorboard'
        >>> trainer_settings("sft", {"seed": 3}, Path("out"), 0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: sft.config.seed is set by the recipe (...); remove it
    """
    given = dict(given or {})
    for key, why in FIXED_SETTINGS.items():
        if key in given:
            raise ValueError(f"{stage}.config.{key} is set by the recipe ({why}); remove it")
    return {**DEFAULT_SETTINGS, **given, "output_dir": str(folder), "seed": seed, **fixed}


def _torch_dtype(name: str | None) -> Any:
    if name in (None, "auto"):
        return "auto"
    import torch

    if name not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"model.dtype must be auto, float32, bfloat16 or float16, got {name!r}")
    return getattr(torch, name)


def load_model(source: str, model_cfg: dict[str, Any] | None = None, *,
               for_training: bool = True) -> Any:
    """A causal LM from a folder with the config's loading options (``dtype``,
    ``attn_implementation``), the lower layers frozen when ``trainable_layers`` is set.

    Example:
        >>> model = load_model("runs/tiny-cpu/sft", {"dtype": "float32"})  # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM

    cfg = dict(model_cfg or {})
    kwargs: dict[str, Any] = {}
    if cfg.get("dtype") not in (None, "auto"):
        kwargs["dtype"] = _torch_dtype(cfg["dtype"])
    if cfg.get("attn_implementation"):
        kwargs["attn_implementation"] = cfg["attn_implementation"]
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    top = cfg.get("trainable_layers")
    if for_training and top and not cfg.get("lora"):
        freeze_below(model, int(top))
    return model


def _decoder_layers(model: Any) -> Any:
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise ValueError(f"model.trainable_layers: cannot find the decoder layers of "
                     f"{type(model).__name__}")


def freeze_below(model: Any, top: int) -> None:
    """Train only the top ``top`` decoder layers and the final norm: backpropagation then
    stops there, which is what makes a step affordable on a CPU."""
    layers = _decoder_layers(model)
    if not 0 < top <= len(layers):
        raise ValueError(f"model.trainable_layers must be between 1 and {len(layers)}, got {top}")
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in list(layers)[-top:]:
        for p in layer.parameters():
            p.requires_grad_(True)
    norm = getattr(getattr(model, "model", model), "norm", None)
    if norm is not None:
        for p in norm.parameters():
            p.requires_grad_(True)


def _linear_names(model: Any) -> list[str]:
    """The names of the linear layers inside the decoder layers (``q_proj``, ``up_proj``...)."""
    import torch

    layers = _decoder_layers(model)
    return sorted({name.rsplit(".", 1)[-1] for name, mod in layers[0].named_modules()
                   if isinstance(mod, torch.nn.Linear)})


def peft_config(model_cfg: dict[str, Any] | None, model: Any = None) -> Any:
    """A peft ``LoraConfig`` from ``model.lora`` (None when LoRA is off).

    ``trainable_layers`` with LoRA puts adapters on the top layers only (on every linear
    layer of those, unless ``target_modules`` names them).

    Example:
        >>> peft_config({}) is None
        True
    """
    cfg = dict(model_cfg or {})
    lora = cfg.get("lora")
    if not lora:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ImportError("model.lora needs peft: pip install 'stepreward[trl]' peft") from None
    opts = {k: v for k, v in lora.items() if v is not None} if isinstance(lora, dict) else {}
    top = cfg.get("trainable_layers")
    if top and model is not None:
        n = len(_decoder_layers(model))
        if not 0 < int(top) <= n:
            raise ValueError(f"model.trainable_layers must be between 1 and {n}, got {top}")
        opts.setdefault("layers_to_transform", list(range(n - int(top), n)))
        opts.setdefault("target_modules", _linear_names(model))
    opts.setdefault("r", 16)
    opts.setdefault("lora_alpha", 2 * opts["r"])
    opts.setdefault("lora_dropout", 0.0)
    opts.setdefault("target_modules", "all-linear")
    return LoraConfig(task_type="CAUSAL_LM", **opts)


def save_checkpoint(model: Any, tokenizer: Any, folder: Path, prompt: dict[str, Any]) -> None:
    """Save a plain model folder (LoRA adapters merged in) with the prompt format the model
    was trained on, so that evaluation renders the same prompts."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    (folder / PROMPT_FILE).write_text(json.dumps(prompt, indent=2) + "\n")


def prompt_format_of(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The prompt format a checkpoint was trained with (``{"format": "compact",
    "system_prompt": None}``), or None when the folder does not say.

    Example:
        >>> prompt_format_of("/nonexistent") is None
        True
    """
    path = Path(model_dir) / PROMPT_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _completion_text(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, str]:
    """(prompt, completion) texts of a chat: the prompt ends with the assistant turn's
    opener, the completion holds the reply and the turn's end marker, so that the model learns
    to stop. Works with any chat template: the split is where the rendered prompt ends."""
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False,
                                           add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if full.startswith(prompt):
        return prompt, full[len(prompt):]
    # A template that rewrites earlier turns: the reply and the end-of-sequence token.
    return prompt, messages[-1]["content"] + (tokenizer.eos_token or "")


def sft_dataset(rows: list[dict[str, Any]], tokenizer: Any, max_length: int | None) -> Any:
    """Tokenized SFT examples (``input_ids`` and ``labels``, prompt tokens masked with -100)
    from rows with chat ``messages`` ending in the assistant's reply.

    Example:
        >>> ds = sft_dataset(rows, tokenizer, 512)  # doctest: +SKIP
    """
    import datasets

    out = []
    for row in rows:
        prompt, completion = _completion_text(tokenizer, row["messages"])
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"]
        ids = (p + c)[:max_length] if max_length else p + c
        labels = ([-100] * len(p) + c)[:len(ids)]
        if any(x != -100 for x in labels):
            out.append({"input_ids": ids, "labels": labels})
    if not out:
        raise ValueError("no SFT example keeps a completion token within sft max_length")
    return datasets.Dataset.from_list(out)


class StepClock:
    """Wall time of every optimizer step and of the reward functions inside it, for the share
    of a GRPO step that rewards take (``timing.json`` in the stage folder)."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self.reward_s = 0.0
        self.steps: list[dict[str, float]] = []
        self._start: float | None = None
        self._reward_at_start = 0.0

    def wrap(self, rewards: list[Any]) -> list[Any]:
        """The reward callables, timed; names (TRL's metric keys) and async-ness kept."""
        import asyncio
        import functools

        out = []
        for func in rewards:
            name = getattr(func, "__name__", type(func).__name__)
            if asyncio.iscoroutinefunction(func) or asyncio.iscoroutinefunction(
                    type(func).__call__):
                out.append(func)  # timed inside the step anyway; TRL awaits it separately
                continue

            def timed(*args: Any, _f: Any = func, **kwargs: Any) -> Any:
                t0 = self._now()
                try:
                    return _f(*args, **kwargs)
                finally:
                    self.reward_s += self._now() - t0

            functools.update_wrapper(timed, func, assigned=("__doc__",), updated=())
            timed.__name__ = name
            out.append(timed)
        return out

    def callback(self) -> Any:
        """A transformers ``TrainerCallback`` that closes each step's record."""
        from transformers import TrainerCallback

        clock = self

        class _Clock(TrainerCallback):  # type: ignore[misc,unused-ignore]
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                clock._start = clock._now()
                clock._reward_at_start = clock.reward_s

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if clock._start is not None:
                    clock.steps.append({"step_s": clock._now() - clock._start,
                                        "reward_s": clock.reward_s - clock._reward_at_start})
                    clock._start = None

        return _Clock()

    def summary(self) -> dict[str, Any]:
        """Mean step and reward time, and the reward share of a step, over the steps."""
        if not self.steps:
            return {}
        step = sum(s["step_s"] for s in self.steps)
        reward = sum(s["reward_s"] for s in self.steps)
        return {"steps_timed": len(self.steps), "step_s": step / len(self.steps),
                "reward_s": reward / len(self.steps),
                "reward_share": reward / step if step else 0.0}
