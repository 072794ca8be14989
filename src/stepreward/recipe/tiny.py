"""A tiny, locally built model and tokenizer, for tests and CPU runs without hub access."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CHAT_TEMPLATE", "build_tiny_model"]

# ChatML with {% generation %} markers, so SFT can train on assistant tokens only.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _corpus(limit_bytes: int) -> list[str]:
    """Python source from the running interpreter's standard library (always present)."""
    stdlib = Path(os.path.dirname(os.__file__))
    texts, total = [], 0
    for path in sorted(stdlib.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    return texts


def build_tiny_model(out_dir: str | os.PathLike[str], *, vocab_size: int = 4096,
                     hidden_size: int = 64, layers: int = 2, heads: int = 4,
                     kv_heads: int = 2, seed: int = 0, corpus_bytes: int = 3_000_000,
                     intermediate_size: int | None = None,
                     extra_texts: Sequence[str] = (), force: bool = False) -> Path:
    """Train a byte-level BPE tokenizer on local Python source and save a random Qwen2-style
    model beside it (~0.3M parameters with the defaults); reload both with
    ``from_pretrained(out_dir)``. Needs ``pip install 'stepreward[trl]'``.

    ``extra_texts`` join the tokenizer's corpus (the recipe passes its prompts and answers,
    so the fixed prompt wording becomes a few tokens and sequences stay short);
    ``intermediate_size`` defaults to twice ``hidden_size``.

    Example:
        >>> path = build_tiny_model("/tmp/tiny-model")  # doctest: +SKIP
    """
    try:
        import torch
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    except ImportError:
        raise ImportError("build_tiny_model needs torch, tokenizers and transformers: "
                          "pip install 'stepreward[trl]'") from None
    out = Path(out_dir)
    if not force and (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([*extra_texts, *_corpus(corpus_bytes)], trainer=trainer)
    tokenizer: Any = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call,unused-ignore]
        tokenizer_object=tok, bos_token=None, eos_token="<|im_end|>",
        pad_token="<|endoftext|>", unk_token=None)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden_size,
                         intermediate_size=intermediate_size or hidden_size * 2,
                         num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads,
                         max_position_embeddings=4096, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    return out
