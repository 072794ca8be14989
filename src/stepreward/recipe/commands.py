"""The method's subcommands of ``stepreward``: ``recipe``, ``ablation``, ``paper code-rows`` and
``gpu-check``, each defined once in its module and also runnable with ``python -m``."""

from __future__ import annotations

import argparse
from typing import Any

from stepreward.recipe import ablation, code_rows, driver, gpu_check

__all__ = ["COMMANDS", "register"]

# name -> (module with add_arguments and run, one-line help, description)
COMMANDS: dict[str, tuple[Any, str, str]] = {
    "recipe": (driver,
               "run the two-stage ExecVerify recipe on TRL (data, SFT, stage 1, stage 2, eval)",
               "Run the stages of a recipe config (integrations/trl/*.yaml) in order, each "
               "from the previous stage's checkpoint; PRINT_ARGS=1 prints the effective "
               "settings and runs nothing."),
    "ablation": (ablation,
                 "compare stage-1 rewards (stepwise vs output-only) over several seeds",
                 "Train each arm's stage 1 from one shared SFT checkpoint with each seed and "
                 "report held-out accuracy as mean ± std, with differences beyond noise."),
    "paper": (code_rows, "the method's data for other trainers (code-rows: stage-2 rows for "
                         "OpenRLHF and verl)",
              "The method's stage-2 data, checked for contamination."),
    "gpu-check": (gpu_check, "time a short stage-1 GRPO on one GPU (reward share of a step)",
                  "A short stage-1 GRPO on one GPU with a locally built model (no hub): step "
                  "time, generation time and the share of the step in stepreward's rewards."),
}


def register(sub: Any) -> None:
    """Add the method's subcommands to ``stepreward``'s subparsers ``sub``.

    Example:
        >>> ap = argparse.ArgumentParser(prog="stepreward")
        >>> register(ap.add_subparsers(dest="command"))
        >>> ap.parse_args(["recipe", "c.yaml"]).config
        'c.yaml'
    """
    for name, (module, help_text, description) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
