"""Thin adapters: TRL reward callables, OpenRLHF reward functions, tiny local models."""

from __future__ import annotations

__all__: list[str] = []
