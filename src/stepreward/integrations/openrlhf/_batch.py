"""OpenRLHF's remote reward protocol: the request body a batch is read from."""

from __future__ import annotations

from typing import Any

__all__ = ["parse_batch"]


def _str_list(body: dict[str, Any], key: str, n: int | None) -> list[str]:
    value = body.get(key)
    if value is None:
        return [""] * (n or 0)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{key}' must be a list of strings")
    return value


def parse_batch(body: object) -> tuple[list[str], list[str], list[object]]:
    """Check a request body against the protocol; ``(queries, prompts, labels)``.

    Raises ValueError naming the field that is wrong.

    Example:
        >>> parse_batch({"query": ["q"], "prompts": ["p"], "labels": ['{"id": 1}']})
        (['q'], ['p'], ['{"id": 1}'])
        >>> parse_batch({"query": "q"})
        Traceback (most recent call last):
        ...
        ValueError: 'query' must be a list of strings
    """
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    key = "query" if "query" in body or "queries" not in body else "queries"
    if body.get(key) is None:
        queries: list[str] = []
    else:
        queries = _str_list(body, key, None)
    prompts = _str_list(body, "prompts", len(queries))
    labels = body.get("labels")
    if labels is None:
        labels = [None] * len(queries)
    if not isinstance(labels, list) or not all(
            lab is None or isinstance(lab, (str, dict)) for lab in labels):
        raise ValueError("'labels' must be a list of strings (JSON labels), objects or nulls")
    for name, items in (("prompts", prompts), ("labels", labels)):
        if len(items) != len(queries):
            raise ValueError(f"'{name}' has {len(items)} entries for {len(queries)} queries")
    return queries, prompts, labels
