"""The tiny local model at its first address: re-exports of :mod:`stepreward.recipe.tiny`
(canonical). ``python -m stepreward.integrations.tiny DIR`` builds one in DIR."""

from __future__ import annotations

import sys

from stepreward.recipe.tiny import CHAT_TEMPLATE, SPECIALS, build_tiny_model

__all__ = ["CHAT_TEMPLATE", "SPECIALS", "build_tiny_model"]

if __name__ == "__main__":
    print(build_tiny_model(sys.argv[1] if len(sys.argv) > 1 else "tiny-model"))
