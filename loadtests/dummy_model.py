"""A model directory for vLLM's `--load-format dummy`: a hand-written config of a real architecture (random
weights, no download) with the bundled judge's tokenizer and chat template, so the gateway renders real prompts.

    .venv/bin/python loadtests/dummy_model.py --shape qwen3-8b --out .cache/models/qwen3-8b-dummy
    .venv/bin/python loadtests/dummy_model.py --shape tiny --out .cache/models/tiny-dummy   # CPU check of the path

Throughput on dummy weights is the real architecture's (same matmuls, same KV cache); the text is noise, which
the grammar still shapes into a verdict, and output lengths hit `max_tokens`, so runs are comparable.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from loadtests.harness import ROOT  # noqa: E402
from models.bundled import prepare_bundled_model  # noqa: E402

# Qwen3-8B's published architecture (config.json of Qwen/Qwen3-8B), with the vocabulary of the tokenizer we ship.
QWEN3_8B = {
    "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 40960, "rope_theta": 1000000.0,
}
TINY = {
    "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 64, "max_position_embeddings": 4096, "rope_theta": 1000000.0,
}
SHAPES = {"qwen3-8b": QWEN3_8B, "tiny": TINY}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "generation_config.json")


def write(shape: str, out: Path) -> Path:
    source = prepare_bundled_model(ROOT / ".cache" / "models")
    bundled = json.loads((source / "config.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "torch_dtype": "bfloat16",
        "hidden_act": "silu", "rms_norm_eps": 1e-6, "attention_bias": False, "attention_dropout": 0.0,
        "tie_word_embeddings": False, "use_cache": True, "sliding_window": None, "use_sliding_window": False,
        "max_window_layers": SHAPES[shape]["num_hidden_layers"], "initializer_range": 0.02,
        "vocab_size": bundled["vocab_size"], "bos_token_id": bundled.get("bos_token_id"),
        "eos_token_id": bundled.get("eos_token_id"), **SHAPES[shape],
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, out / name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-8b")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(write(args.shape, args.out))


if __name__ == "__main__":
    main()
