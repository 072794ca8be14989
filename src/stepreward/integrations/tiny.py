"""Deprecated address of the tiny local model: :mod:`stepreward.recipe.tiny` re-exported.

``python -m stepreward.integrations.tiny DIR`` still builds one in DIR (as ``stepreward models
tiny --out DIR``).
"""

from __future__ import annotations

import sys

from stepreward._compat import warn_renamed
from stepreward.recipe.tiny import CHAT_TEMPLATE, SPECIALS, build_tiny_model

__all__ = ["CHAT_TEMPLATE", "SPECIALS", "build_tiny_model"]

if __name__ == "__main__":
    warn_renamed("python -m stepreward.integrations.tiny DIR", "stepreward models tiny --out DIR",
                 stacklevel=2)
    print(build_tiny_model(sys.argv[1] if len(sys.argv) > 1 else "tiny-model"))
else:
    warn_renamed("stepreward.integrations.tiny", "stepreward.recipe.tiny")
