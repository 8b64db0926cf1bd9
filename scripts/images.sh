#!/usr/bin/env bash
# `make images`: build the project's images with the classic `docker build` (no buildx needed).
#   IMAGES="serve-cpu train-cpu" (default) | serve-gpu | train-gpu | prometheus ...   which to build
#   TAG_PREFIX=genrm-            image names: genrm-serve:cpu, genrm-train:cpu, ...
#   EXTRA_CA_BUNDLE=FILE|none     CAs pip must trust inside the build (default: the host's trust store)
#   TORCH_INDEX_URL=URL           where the CPU torch comes from if the host's pip cannot fetch its wheel
# Base images: each is pulled if a registry answers, else a local stand-in is built (deploy/images/standins/:
# a Debian minbase root file system from the host's apt sources by mmdebstrap, then the stand-in Dockerfile).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOCKER_BUILDKIT=0    # the classic builder: Debian's docker.io has no buildx
IMAGES="${IMAGES:-serve-cpu train-cpu}"
TAG_PREFIX="${TAG_PREFIX:-genrm-}"
INPUTS=deploy/images/build-inputs
STANDINS=deploy/images/standins
DEBIAN_BASE=genrm-standin/debian:bookworm
PYTHON_IMAGE=python:3.11-slim-bookworm
PROMETHEUS_IMAGE=prom/prometheus:v2.42.0
HOST_PYTHON="${HOST_PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || command -v python3)}"

say() { printf 'images: %s\n' "$*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

debian_standin() {
  have_image "$DEBIAN_BASE" && return
  local sources=() rootfs
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$file" ] && sources+=("$file")
  done
  [ -n "${DEBIAN_MIRROR:-}" ] && sources=("$DEBIAN_MIRROR")
  rootfs="$(mktemp -d)/rootfs.tar"
  say "no registry: making $DEBIAN_BASE from ${sources[*]:-the default Debian mirror} with mmdebstrap"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$rootfs" "${sources[@]}"
  docker import --message "stand-in Debian bookworm minbase (scripts/images.sh)" "$rootfs" "$DEBIAN_BASE" >/dev/null
  rm -rf "$(dirname "$rootfs")"
}

# The upstream image if present or pullable; otherwise the stand-in, tagged with the upstream name so the
# Dockerfiles and the compose file stay unchanged.
base_image() {
  local name="$1" standin="$2"
  have_image "$name" && return
  if timeout 120 docker pull -q "$name" >/dev/null 2>&1; then return; fi
  debian_standin
  say "no registry: building the STAND-IN $name from $standin"
  build_logged "$name" --build-arg DEBIAN_BASE="$DEBIAN_BASE" -f "$standin" "$STANDINS"
}

ca_bundle() {
  local chosen="${EXTRA_CA_BUNDLE:-}"
  rm -f "$INPUTS/ca-bundle.pem"
  [ "$chosen" = none ] && return
  if [ -z "$chosen" ]; then
    for candidate in "${SSL_CERT_FILE:-}" "${REQUESTS_CA_BUNDLE:-}" "${PIP_CERT:-}" \
        "$("$HOST_PYTHON" -m pip config get global.cert 2>/dev/null || true)" \
        /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
      if [ -n "$candidate" ] && [ -s "$candidate" ]; then chosen="$candidate"; break; fi
    done
  fi
  [ -z "$chosen" ] && return
  [ -s "$chosen" ] || { say "EXTRA_CA_BUNDLE=$chosen is not a file"; exit 2; }
  cp "$chosen" "$INPUTS/ca-bundle.pem"
  say "builds trust the CAs in $chosen (builder stages only)"
}

# The CPU torch wheel of the lock's version, fetched by the host's pip (its caches, find-links and indexes), so
# that the CPU images never pull PyPI's CUDA build. Kept between runs: the layers above it stay cached.
cpu_torch_wheel() {
  local version
  version="$(sed -n 's/^torch==//p' constraints/cpu.txt)"
  mkdir -p "$INPUTS/wheels"
  ls "$INPUTS/wheels/torch-$version+cpu-"*.whl >/dev/null 2>&1 && return
  rm -f "$INPUTS"/wheels/torch-*.whl
  local download=("$HOST_PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.11
                  --platform manylinux_2_28_x86_64 -d "$INPUTS/wheels" "torch==$version+cpu")
  "${download[@]}" 2>/dev/null \
    || "${download[@]}" --retries 1 --extra-index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" \
    || say "no local CPU torch wheel; the build asks ${TORCH_INDEX_URL:-the PyTorch CPU index}"
}

# docker build -t TAG ARGS..., its output in .cache/images/TAG.log (the tail shown on failure).
build_logged() {
  local tag="$1" log
  shift
  mkdir -p .cache/images
  log=".cache/images/${tag//[:\/]/-}.log"
  if ! docker build -t "$tag" "$@" >"$log" 2>&1; then
    tail -40 "$log" >&2
    say "building $tag failed; the whole log is $log"
    exit 1
  fi
}

build() {
  local tag="$1" dockerfile="$2" engine="$3" started
  started=$(date +%s)
  build_logged "$tag" --build-arg ENGINE="$engine" \
      ${TORCH_INDEX_URL:+--build-arg TORCH_INDEX_URL="$TORCH_INDEX_URL"} -f "$dockerfile" .
  local seconds=$(( $(date +%s) - started )) size
  size="$(docker image inspect -f '{{.Size}}' "$tag")"
  say "built $tag in $seconds s ($(( size / 1000000 )) MB)"
}

ca_bundle
case " $IMAGES " in *-cpu*) cpu_torch_wheel ;; esac
case " $IMAGES " in *serve-*|*train-*) base_image "$PYTHON_IMAGE" "$STANDINS/python.Dockerfile" ;; esac
for image in $IMAGES; do
  case "$image" in
    serve-cpu|serve-gpu) build "${TAG_PREFIX}serve:${image#serve-}" Dockerfile "${image#serve-}" ;;
    train-cpu|train-gpu) build "${TAG_PREFIX}train:${image#train-}" Dockerfile.train "${image#train-}" ;;
    prometheus) base_image "$PROMETHEUS_IMAGE" "$STANDINS/prometheus.Dockerfile" ;;
    *) say "unknown image '$image' (serve-cpu serve-gpu train-cpu train-gpu prometheus)"; exit 2 ;;
  esac
done
