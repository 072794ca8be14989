"""The OpenRLHF scripts chain with their defaults: sft -> stage 1 -> stage 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "integrations" / "openrlhf"


def _flags(script: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MODEL", "OUT", "DATA", "EPISODES")}
    # `stepreward openrlhf-path` must resolve: the console script next to this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    out = subprocess.run(["bash", str(SCRIPTS / script)], env={**env, "PRINT_ARGS": "1"},
                         capture_output=True, text=True, timeout=60, check=True).stdout
    args = out.splitlines()
    return {a: (args[i + 1] if i + 1 < len(args) else "") for i, a in enumerate(args)
            if a.startswith("--")}


def test_scripts_chain_with_their_defaults() -> None:
    sft, stage1, stage2 = _flags("sft.sh"), _flags("stage1.sh"), _flags("stage2.sh")
    assert stage1["--actor.model_name_or_path"] == sft["--ckpt.output_dir"]
    assert stage2["--actor.model_name_or_path"] == stage1["--ckpt.output_dir"]
    assert stage2["--ckpt.output_dir"] != stage1["--ckpt.output_dir"]
    assert stage2["--train.num_episodes"] == "5" and stage1["--train.num_episodes"] == "4"
