"""Optional model backends: an OpenAI-compatible HTTP client, ``transformers`` and vLLM."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

__all__ = ["GenerationError", "Generator", "OpenAICompatible", "TransformersGenerator",
           "VLLMGenerator"]


class GenerationError(RuntimeError):
    """A backend could not produce completions (with the server's or library's reason)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Generator(Protocol):
    """Anything that turns prompts into ``n`` completions each.

    Example:
        >>> class Echo:
        ...     def generate(self, prompts, n=1, *, temperature=1.0, max_tokens=512, seed=None):
        ...         return [[p] * n for p in prompts]
        >>> isinstance(Echo(), Generator)
        True
    """

    def generate(self, prompts: Sequence[str], n: int = 1, *, temperature: float = 1.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[list[str]]: ...


def _messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The chat turns of one prompt: the system turn (when there is one), then the user's."""
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": prompt}]


class OpenAICompatible:
    """Chat completions from an OpenAI-compatible server (a local vLLM server, for example).

    Example:
        >>> backend = OpenAICompatible("http://127.0.0.1:8000/v1", model="my-model")
        >>> backend.url
        'http://127.0.0.1:8000/v1/chat/completions'
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 timeout_s: float = 120.0, max_concurrency: int = 8,
                 system_prompt: str | None = None, retries: int = 3,
                 backoff_s: float = 1.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_concurrency = max(1, max_concurrency)
        self.system_prompt = system_prompt
        self.retries = max(1, retries)
        self.backoff_s = backoff_s

    def _one(self, prompt: str, n: int, temperature: float, max_tokens: int,
             seed: int | None) -> list[str]:
        """One request, retried on connection errors, timeouts and 5xx/429 answers."""
        import time

        last: GenerationError | None = None
        for attempt in range(self.retries):
            try:
                return self._request(prompt, n, temperature, max_tokens, seed)
            except GenerationError as exc:
                last = exc
                if not exc.retryable:
                    raise
                time.sleep(self.backoff_s * (2 ** attempt))
        assert last is not None
        raise last

    def _request(self, prompt: str, n: int, temperature: float, max_tokens: int,
             seed: int | None) -> list[str]:
        messages = _messages(prompt, self.system_prompt)
        body: dict[str, Any] = {"model": self.model, "messages": messages, "n": n,
                                "temperature": temperature, "max_tokens": max_tokens}
        if seed is not None:
            body["seed"] = seed
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(),
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            raise GenerationError(f"{self.url} answered {exc.code}: {detail}",
                                  retryable=exc.code >= 500 or exc.code == 429) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GenerationError(f"cannot reach {self.url}: {exc}", retryable=True) from None
        except ValueError as exc:
            raise GenerationError(f"{self.url} sent invalid JSON: {exc}") from None
        try:
            return [str(c["message"]["content"]) for c in data["choices"]]
        except (KeyError, TypeError) as exc:
            raise GenerationError(f"unexpected response shape from {self.url}: {exc!r}") from None

    def generate(self, prompts: Sequence[str], n: int = 1, *, temperature: float = 1.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[list[str]]:
        """``n`` completions per prompt, requests sent concurrently, results in order."""
        with ThreadPoolExecutor(self.max_concurrency) as pool:
            futures = [pool.submit(self._one, p, n, temperature, max_tokens,
                                   None if seed is None else seed + i)
                       for i, p in enumerate(prompts)]
            return [f.result() for f in futures]


class TransformersGenerator:
    """Batched sampling with a local ``transformers`` model (``pip install stepreward[trl]``).

    Prompts go through the tokenizer's chat template when it has one; ``batch_size`` prompts
    are left-padded and sampled together.

    Example:
        >>> TransformersGenerator.__name__
        'TransformersGenerator'
    """

    def __init__(self, model: Any, tokenizer: Any | None = None, *, batch_size: int = 8,
                 system_prompt: str | None = None) -> None:
        try:
            import torch  # noqa: F401
            import transformers
        except ImportError:
            raise ImportError("TransformersGenerator needs torch and transformers: "
                              "pip install 'stepreward[trl]'") from None
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        if isinstance(model, str):
            self.tokenizer = tokenizer or transformers.AutoTokenizer.from_pretrained(model)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(model)
        else:
            if tokenizer is None:
                raise ValueError("pass the tokenizer along with a model object")
            self.model, self.tokenizer = model, tokenizer

    def _text(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(
                _messages(prompt, self.system_prompt), tokenize=False,
                add_generation_prompt=True))
        return f"{self.system_prompt}\n\n{prompt}" if self.system_prompt else prompt

    def generate(self, prompts: Sequence[str], n: int = 1, *, temperature: float = 1.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[list[str]]:
        import torch

        if seed is not None:
            torch.manual_seed(seed)
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        side = tok.padding_side
        out: list[list[str]] = []
        try:
            # Decoder-only models continue from the last position: pad on the left.
            tok.padding_side = "left"
            if tok.pad_token_id is None:
                tok.pad_token_id = pad
            for i in range(0, len(prompts), self.batch_size):
                chunk = [self._text(p) for p in prompts[i:i + self.batch_size]]
                enc = tok(chunk, return_tensors="pt", padding=True).to(self.model.device)
                # Greedy decoding gives the same text every time: decode once, repeat it.
                sample = temperature > 0
                per = n if sample else 1
                with torch.no_grad():
                    ids = self.model.generate(**enc, do_sample=sample,
                                              **({"temperature": temperature} if sample else {}),
                                              max_new_tokens=max_tokens,
                                              num_return_sequences=per, pad_token_id=pad)
                start = enc["input_ids"].shape[1]
                texts = [str(tok.decode(row[start:], skip_special_tokens=True)) for row in ids]
                out.extend((texts[j * per:(j + 1) * per] * n)[:n] for j in range(len(chunk)))
        finally:
            tok.padding_side = side
        return out


class VLLMGenerator:
    """Offline generation with vLLM (needs ``pip install vllm`` and a GPU).

    Example:
        >>> VLLMGenerator.__name__
        'VLLMGenerator'
    """

    def __init__(self, model: str, *, system_prompt: str | None = None,
                 **engine_args: Any) -> None:
        try:
            import vllm
        except ImportError:
            raise ImportError("VLLMGenerator needs vLLM: pip install vllm "
                              "(or serve the model and use --endpoint)") from None
        self._vllm = vllm
        self.system_prompt = system_prompt
        self.llm = vllm.LLM(model=model, **engine_args)

    def generate(self, prompts: Sequence[str], n: int = 1, *, temperature: float = 1.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[list[str]]:
        params = self._vllm.SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens,
                                           seed=seed)
        results = self.llm.chat([_messages(p, self.system_prompt) for p in prompts], params,
                                use_tqdm=False)
        return [[c.text for c in r.outputs] for r in results]
