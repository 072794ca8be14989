"""Optional model backends: an OpenAI-compatible HTTP client, ``transformers`` and vLLM."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Completion", "GenerationError", "Generator", "OpenAICompatible",
           "TransformersGenerator", "VLLMGenerator", "repeating_tail"]


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


@dataclass(frozen=True)
class Completion:
    """One generated text and why generation stopped: ``stop`` (a stop string or the end of
    the turn), ``length`` (the token budget ran out), ``repetition`` (the repetition guard cut
    a loop), or ``unknown`` (the backend does not say)."""

    text: str
    finish: str = "unknown"


def repeating_tail(ids: Sequence[int], *, max_period: int = 32, min_span: int = 64,
                   ngram: int = 8, max_repeats: int = 5, window: int = 192) -> bool:
    """Whether generation is stuck in a loop: the last tokens repeat one block of at most
    ``max_period`` tokens for ``min_span`` tokens, or one ``ngram`` recurs more than
    ``max_repeats`` times in the last ``window`` tokens (a line template repeated with one
    word changed). A small model in such a loop rarely reaches its stop string; cutting it
    saves the rest of the token budget.

    Example:
        >>> repeating_tail([5, 6, 7] * 30)
        True
        >>> repeating_tail(list(range(100)))
        False
        >>> repeating_tail([w for i in range(12) for w in (1, 2, 3, 4, 5, 6, 7, 8, 100 + i)])
        True
    """
    n = len(ids)
    for p in range(1, max_period + 1):
        span = max(min_span, 3 * p)
        if n < span + p:
            break
        if all(ids[n - i] == ids[n - i - p] for i in range(1, span + 1)):
            return True
    tail = tuple(ids[-window:])
    # Occurrences that do not overlap: a short run of one repeated token or pair is not a loop.
    seen: dict[tuple[int, ...], tuple[int, int]] = {}  # n-gram -> (count, last start)
    for i in range(len(tail) - ngram + 1):
        key = tail[i:i + ngram]
        count, last = seen.get(key, (0, -ngram))
        if i - last >= ngram:
            count, last = count + 1, i
            if count > max_repeats:
                return True
            seen[key] = (count, last)
    return False


class _RepetitionGuard:
    """A transformers stopping criterion that ends the sequences caught in a loop (checked every
    few tokens: the check is cheap but not free) and remembers which ones it ended."""

    def __init__(self, start: int, every: int = 8) -> None:
        self.start = start
        self.every = every
        self.hit: set[int] = set()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        generated = input_ids.shape[1] - self.start
        if generated < 64 or generated % self.every:
            return done
        tails = input_ids[:, max(self.start, input_ids.shape[1] - 192):].tolist()
        for row, tail in enumerate(tails):
            if row in self.hit or repeating_tail(tail):
                self.hit.add(row)
                done[row] = True
        return done


class TransformersGenerator:
    """Batched generation with a local ``transformers`` model (``pip install stepreward[trl]``).

    Prompts go through the tokenizer's chat template when it has one; ``batch_size`` prompts
    of similar length are left-padded and generated together. Generation stops at any of
    ``stop`` (the closing answer tag by default), at the end of the turn, or when the text
    falls into a loop (``repetition_guard``); ``generate_completions`` says which.

    Example:
        >>> TransformersGenerator.__name__
        'TransformersGenerator'
    """

    def __init__(self, model: Any, tokenizer: Any | None = None, *, batch_size: int = 8,
                 system_prompt: str | None = None, dtype: str | None = None,
                 stop: Sequence[str] | None = ("</answer>",),
                 repetition_guard: bool = True, chat_template: bool = True) -> None:
        try:
            import torch
            import transformers
        except ImportError:
            raise ImportError("TransformersGenerator needs torch and transformers: "
                              "pip install 'stepreward[trl]'") from None
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        self.stop = [s for s in (stop or ()) if s]
        self.repetition_guard = repetition_guard
        self.chat_template = chat_template
        if isinstance(model, str):
            kwargs: dict[str, Any] = {}
            if dtype not in (None, "auto"):
                if dtype not in ("float32", "bfloat16", "float16"):
                    raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
                kwargs["dtype"] = getattr(torch, dtype)
            self.tokenizer = tokenizer or transformers.AutoTokenizer.from_pretrained(model)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(model, **kwargs)
            if torch.cuda.is_available():
                self.model = self.model.to("cuda")  # type: ignore[arg-type,unused-ignore]
            self.model.eval()  # type: ignore[no-untyped-call,unused-ignore]
        else:
            if tokenizer is None:
                raise ValueError("pass the tokenizer along with a model object")
            self.model, self.tokenizer = model, tokenizer

    def _text(self, prompt: str) -> str:
        if self.chat_template and getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(
                _messages(prompt, self.system_prompt), tokenize=False,
                add_generation_prompt=True))
        return f"{self.system_prompt}\n\n{prompt}" if self.system_prompt else prompt

    def generate(self, prompts: Sequence[str], n: int = 1, *, temperature: float = 1.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[list[str]]:
        return [[c.text for c in row] for row in self.generate_completions(
            prompts, n, temperature=temperature, max_tokens=max_tokens, seed=seed)]

    def generate_completions(self, prompts: Sequence[str], n: int = 1, *,
                             temperature: float = 1.0, max_tokens: int = 512,
                             seed: int | None = None,
                             stop: Sequence[str] | None = None) -> list[list[Completion]]:
        """``n`` completions per prompt with their finish reasons, in the prompts' order;
        ``stop`` replaces the generator's stop strings for this call."""
        stops = self.stop if stop is None else [s for s in stop if s]
        import torch
        from transformers import StoppingCriteriaList

        if seed is not None:
            torch.manual_seed(seed)
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        side = tok.padding_side
        texts = [self._text(p) for p in prompts]
        # Prompts of similar length share a batch: less padding to compute over.
        lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        results: dict[int, list[Completion]] = {}
        sample = temperature > 0
        per = n if sample else 1  # greedy decoding gives one text: decode once, repeat it
        try:
            tok.padding_side = "left"
            if tok.pad_token_id is None:
                tok.pad_token_id = pad
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                enc = tok([texts[j] for j in idx], return_tensors="pt", padding=True,
                          add_special_tokens=False).to(self.model.device)
                start = enc["input_ids"].shape[1]
                guard = _RepetitionGuard(start)
                options: dict[str, Any] = {"max_new_tokens": max_tokens,
                                           "num_return_sequences": per, "pad_token_id": pad,
                                           "do_sample": sample}
                if sample:
                    options.update(temperature=temperature, top_p=1.0, top_k=0)
                if stops:
                    options.update(stop_strings=list(stops), tokenizer=tok)
                if self.repetition_guard:
                    options["stopping_criteria"] = StoppingCriteriaList([guard])
                with torch.no_grad():
                    ids = self.model.generate(**enc, **options)
                for j, row in enumerate(ids):
                    new = row[start:]
                    text = str(tok.decode(new, skip_special_tokens=True))
                    finish = self._finish(new, text, j in guard.hit, stops)
                    results.setdefault(idx[j // per], []).append(Completion(text, finish))
        finally:
            tok.padding_side = side
        return [(results[i] * n)[:n] for i in range(len(texts))]

    def _finish(self, new: Any, text: str, looped: bool, stops: Sequence[str]) -> str:
        if any(s in text for s in stops):
            return "stop"
        if looped:
            return "repetition"
        ends: set[int] = set()
        for source in (self.tokenizer, getattr(self.model, "generation_config", None)):
            eos = getattr(source, "eos_token_id", None)
            ends |= {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        # A row that ended neither at a stop string nor at an end token ran out of budget.
        return "stop" if ends & {int(x) for x in new.tolist()} else "length"


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
