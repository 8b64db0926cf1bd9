# The README's two commands: `make serve` and `make test`. Both set everything up from nothing.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
MODEL   := .cache/models/smollm2-135m-instruct/genrm-conversion.json
HOST    ?= 127.0.0.1
PORT    ?= 8000
# Tests that run the vLLM engine need both cores; keep the engine and pytest off each other's threads.
export OMP_NUM_THREADS ?= 1

.PHONY: install model serve test test-unit lint release-rubrics smoke-train clean

install: $(STAMP)

$(STAMP): pyproject.toml client/pyproject.toml scripts/install.sh
	VENV=$(VENV) bash scripts/install.sh
	touch $@

model: $(MODEL)

$(MODEL): $(STAMP)
	$(PY) -m models.bundled

serve: install model
	$(PY) -m service --host $(HOST) --port $(PORT)

test: install model lint
	$(PY) -m pytest -q -p no:cacheprovider

test-unit: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not engine and not train"

lint: install
	$(VENV)/bin/ruff check client service models training tests loadtests
	$(VENV)/bin/mypy

# The three CPU smoke trainings and the train -> serve check; last line: par=ok pairwise=ok brpo=ok served=...
smoke-train: install model
	OMP_NUM_THREADS=2 $(PY) -m training.smoke

release-rubrics: install
	$(PY) -m models.rubrics.release rubrics

clean:
	rm -rf $(VENV) .cache
