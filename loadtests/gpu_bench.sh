#!/usr/bin/env bash
# The GPU path, end to end, on one GPU machine with no internet: install the locked GPU engine, write a
# Qwen3-8B-shaped model (random weights, `--load-format dummy`), start the gateway with a managed vLLM GPU engine,
# and run bench_judging at realistic sizes (1k-token responses, 512-token judgments, 256 items x 4 votes,
# 64 pairs x 4 votes x 2 orders). The table goes to $OUT/bench-gpu.txt (or ./bench-gpu.txt) for docs/benchmarks.md.
#   bash loadtests/gpu_bench.sh                  # on the device machine
#   SHAPE=tiny DEVICE=cpu SKIP_INSTALL=1 bash loadtests/gpu_bench.sh   # the same path on CPU, small (a check)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.}"
SHAPE="${SHAPE:-qwen3-8b}"
DEVICE="${DEVICE:-cuda}"
ITEMS="${ITEMS:-256}" PAIRS="${PAIRS:-64}" VOTES="${VOTES:-4}" MAX_TOKENS="${MAX_TOKENS:-512}"
INPUT_TOKENS="${INPUT_TOKENS:-1024}" ROUNDS="${ROUNDS:-2}"
if [ -z "${SKIP_INSTALL:-}" ]; then
  /usr/bin/time -f "install: %e s" env FORCE_ENGINE=gpu SKIP_SYSTEM_PACKAGES=1 bash scripts/install.sh 2>&1 | tail -3
  .venv/bin/python -m models.bundled >/dev/null   # the tokenizer the dummy model borrows
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee "$OUT/gpu.txt" || true
MODEL_DIR=".cache/models/${SHAPE}-dummy"
.venv/bin/python loadtests/dummy_model.py --shape "$SHAPE" --out "$MODEL_DIR"
.venv/bin/python loadtests/bench_judging.py --model-path "$MODEL_DIR" --device "$DEVICE" \
  --engine-arg=--load-format=dummy --max-model-len 4096 --items "$ITEMS" --pairs "$PAIRS" --votes "$VOTES" \
  --max-tokens "$MAX_TOKENS" --input-tokens "$INPUT_TOKENS" --rounds "$ROUNDS" 2>&1 | tee "$OUT/bench-gpu.txt"
