"""The package's layers, lowest first: the one place that states which module may import which.

A module may import modules of its own layer and of the layers below it, never one above, and
no two modules may import each other, directly or around a loop.
``tests/package/test_layers.py`` checks every import in ``src/stepreward`` against this table:
module-level imports, imports inside functions and under ``TYPE_CHECKING``, relative imports,
and the package ``__init__`` that importing a submodule runs. ``docs/architecture.md`` says
what each layer owns.

A name covers the module or package of that name and everything under it. The root package
``stepreward`` covers only its own ``__init__``: the lazy facade of public names, at the top,
which no module of the package imports.

Example:
    >>> layer_of("stepreward.sandbox._pool")
    1
    >>> LAYERS[layer_of("stepreward.scoring._score")][0]
    'scoring'
"""

from __future__ import annotations

__all__ = ["LAYERS", "layer_of"]

ROOT = "stepreward"
# The method's modules at their first address under integrations: re-exports of
# stepreward.recipe, so they belong to its layer.
SHIMS = ("_training", "ablation", "models", "paper", "recipe", "recipe_schema", "tiny")

# (layer name, the modules and packages in it), lowest first; docs/architecture.md says why
# each layer sits where it does (scoring imports questions, eval imports synth, the method
# drives trainers through the adapters, the command line runs both; the framework-neutral
# reward entry that every adapter calls sits above the graders it dispatches to).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("types and values", ("stepreward.types", "stepreward.values", "stepreward._compat",
                          "stepreward._jsonl", "stepreward._lazy", "stepreward._progress",
                          "stepreward._layers", "stepreward._version",
                          "stepreward._jsonlimits", "stepreward._textcache")),
    ("sandbox", ("stepreward.sandbox", "stepreward.testing")),
    ("trace", ("stepreward.trace",)),
    ("questions", ("stepreward.questions",)),
    ("scoring", ("stepreward.scoring",)),
    ("codegen", ("stepreward.codegen",)),
    ("rewards", ("stepreward.presets", "stepreward.rewards", "stepreward.rows")),
    ("synth", ("stepreward.synth",)),
    ("eval", ("stepreward.eval",)),
    ("integrations", ("stepreward.integrations", "stepreward.curriculum")),
    ("recipe", ("stepreward.recipe", *(f"stepreward.integrations.{name}" for name in SHIMS))),
    ("cli", ("stepreward.cli", "stepreward.__main__")),
    ("facade", (ROOT,)),
)


def layer_of(module: str, layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS,
             root: str = ROOT) -> int | None:
    """Index in ``layers`` of a module of the package (None: the table does not name it).

    The longest name that covers ``module`` decides; ``root`` covers only itself.

    Example:
        >>> layer_of("stepreward") == len(LAYERS) - 1
        True
    """
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for index, (_, names) in enumerate(layers):
        for name in names:
            covers = module == name or (name != root and module.startswith(name + "."))
            if covers and (best is None or len(name) > best[0]):
                best = (len(name), index)
    return None if best is None else best[1]
