"""Thin adapters to trainers: TRL reward callables and rows, OpenRLHF reward functions, verl.

The method built on them (the recipe, its paper settings, the ablation) is :mod:`stepreward.recipe`.
"""

from __future__ import annotations

__all__: list[str] = []
