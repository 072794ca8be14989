"""Scripted stand-in for vLLM (tests only)."""

import os
from types import SimpleNamespace

__version__ = "0.11.0"


class SamplingParams:
    def __init__(self, **kwargs):
        self.max_tokens = None
        self.logprobs = None
        self.__dict__.update(kwargs)


class AsyncEngineArgs:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class AsyncLLMEngine:
    def __init__(self, engine_args):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(os.environ["STEPREWARD_STUB_TOKENIZER"])
        self.text = os.environ.get("STEPREWARD_STUB_COMPLETION", "")

    @classmethod
    def from_engine_args(cls, engine_args):
        return cls(engine_args)

    async def is_sleeping(self):
        return False

    async def wake_up(self, tags=None):
        return None

    async def generate(self, prompt, params, request_id=None):
        ids = self.tokenizer(self.text, add_special_tokens=False)["input_ids"]
        yield SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, text=self.text,
                                                       finish_reason="stop", logprobs=None)])
