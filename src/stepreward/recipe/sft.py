"""The recipe's SFT warm-up stage: answer-only (and code) examples from the data stage, on TRL's
SFTTrainer, saved as a plain checkpoint that remembers its prompt format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward._jsonl import read_jsonl
from stepreward.recipe.files import write_metrics

if TYPE_CHECKING:
    from stepreward.recipe.schema import RecipeConfig

__all__ = ["resume_point", "sft_dataset", "train_sft"]


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


def resume_point(folder: Path, cfg: RecipeConfig) -> bool | None:
    """``True`` (TRL picks the last checkpoint) when resuming and the stage saved one.

    Example:
        >>> from stepreward.recipe.schema import RecipeConfig
        >>> resume_point(Path("/nonexistent"), RecipeConfig(resume=True)) is None
        True
    """
    if not cfg.resume:
        return None
    return True if any(folder.glob("checkpoint-*")) else None


def train_sft(cfg: RecipeConfig, out: Path, source: str) -> dict[str, Any]:
    """The SFT stage: train ``source`` on ``OUT/data/sft.jsonl`` into ``OUT/sft``; returns
    the step count and the first and last logged loss.

    Example:
        >>> train_sft(cfg, Path("runs/demo"), "runs/demo/base-model")  # doctest: +SKIP
        {'steps': 300, 'first_loss': 5.1, 'last_loss': 0.4}
    """
    import datasets
    import torch
    import trl
    from transformers import AutoTokenizer

    from stepreward.recipe.training import (
        load_model,
        peft_config,
        save_checkpoint,
        trainer_settings,
    )

    cfg.require("sft")
    folder = out / "sft"
    config = dict(cfg.sft.config)
    rows = read_jsonl(out / "data" / "sft.jsonl")
    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if config.get("assistant_only_loss"):
        # TRL masks by the template's generation markers (templates that have them).
        ds = datasets.Dataset.from_list([{"messages": r["messages"]} for r in rows])
    else:
        # Prompt and reply tokenized here, the prompt masked: any chat template works. The
        # length limit is SFTConfig's max_length (TRL's own default when unset).
        limit = config.get("max_length", trl.SFTConfig.__dataclass_fields__["max_length"].default)
        ds = sft_dataset([r for r in rows if r.get("messages")], tokenizer, limit)
    model = load_model(source, cfg.model)
    args = trl.SFTConfig(**trainer_settings("sft", config, folder, cfg.seed))
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=ds,
                             processing_class=tokenizer,
                             peft_config=peft_config(cfg.model, model))
    trainer.train(resume_from_checkpoint=resume_point(folder, cfg))
    save_checkpoint(trainer.model, tokenizer, folder, cfg.prompt_record())
    write_metrics(folder, trainer.state.log_history)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return {"steps": trainer.state.global_step, "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None}
