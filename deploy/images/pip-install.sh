#!/bin/sh
# `pip install` into the image's venv, pinned by the engine's lock, with the build inputs (build-inputs/README.md):
#   pip-install.sh ENGINE PIP-ARGS...
# The extra CA bundle is used for this command only (PIP_CERT) and stays in the builder stage.
set -eu
engine="$1"
shift
inputs=/tmp/build-inputs
if [ -s "$inputs/ca-bundle.pem" ]; then
    export PIP_CERT="$inputs/ca-bundle.pem"
fi
# The local wheels are the CPU torch: only the CPU variant may see them.
if [ "$engine" = cpu ] && ls "$inputs"/wheels/torch-*+cpu-*.whl >/dev/null 2>&1; then
    set -- --find-links "$inputs/wheels" "$@"
elif [ "$engine" = cpu ]; then
    set -- --extra-index-url "${TORCH_INDEX_URL:?}" "$@"
fi
exec /app/.venv/bin/pip install -q -c "/app/constraints/$engine.txt" "$@"
