"""The file verl loads by path as its custom reward function (``stepreward verl-path``).

verl imports this file outside any package, so it only re-exports stepreward's installed
functions: ``name=compute_score`` (default) or ``name=compute_score_async``.
"""

from stepreward.integrations.verl import compute_score, compute_score_async

__all__ = ["compute_score", "compute_score_async"]
