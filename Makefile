# One entry point for the set-up. `make run` is the main job, `make test` the whole test suite;
# each creates the virtual environment and fetches MNIST when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/0*.ipynb))
STEP   ?=
SEEDS  ?= 5

.PHONY: setup data run test check lint notebooks seeds evidence bench report colab-check clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -e .
	touch $@

data: setup
	$(PY) -m mnist_drill prepare-data

run: data  ## train the last step for its full 15 epochs: per-epoch log, then the verdict
	$(PY) -m mnist_drill train $(if $(STEP),--step $(STEP))

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks tools notebooks

check: data  ## the fast suite (under a minute): the core and the lab's logic on small data, no slow tests
	$(PY) -m pytest tests -m "not slow" -q -p no:cacheprovider

test: data lint  ## unit tests, every notebook in smoke mode under nbval, then the final step's stored run re-checked
	MNIST_DRILL_SMOKE=1 $(PY) -m pytest tests $(NOTEBOOKS) --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider
	$(PY) tools/colab_check.py
	$(PY) -m mnist_drill verify --epochs 2  # the last step's stored run: exact on its machine, within measured bands elsewhere

notebooks: data  ## re-execute the notebooks in full (NOTEBOOKS="notebooks/01_bn_gap.ipynb ..." for some), rewriting their outputs and results/
	for nb in $(NOTEBOOKS); do \
		MNIST_DRILL_CITE=1 MNIST_DRILL_TEXT_PROGRESS=1 $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=-1 $$nb || exit 1; \
	done
	$(PY) -m mnist_drill report

seeds: data  ## every seed of one step (default: the last), side by side (one per core), summary in results/seeds/
	$(PY) -m mnist_drill seeds --seeds $(SEEDS) $(if $(STEP),--step $(STEP))

evidence: data  ## every cited test-set run, one after another with all threads, as they were made (hours on a 2-core CPU)
	for step in $$($(PY) -c "from mnist_drill.config import STEPS; print(*STEPS)"); do \
		$(PY) -m mnist_drill seeds --step $$step --seeds 5 --jobs 1 || exit 1; \
	done
	$(PY) -c "from mnist_drill.lab.recipes import VARIANTS; print(*(f'{s}:{n}' for s, v in VARIANTS.items() for n in v))" | \
		tr ' ' '\n' | while IFS=: read -r step name; do \
			$(PY) -m mnist_drill seeds --step "$$step" --variant "$$name" --seeds 5 --jobs 1 || exit 1; done
	$(MAKE) notebooks bench

bench: data  ## speed: fast pipeline vs the classic torchvision DataLoader, side by side
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/average.py
	$(PY) benchmarks/levers.py  # each speed lever on its own: results/benchmark_levers.json
	$(PY) benchmarks/jobs.py  # --jobs 2 against --jobs 1: results/benchmark_jobs.json
	$(PY) benchmarks/frontier.py  # every frontier recipe's seconds per run on this machine

report: setup
	$(PY) -m mnist_drill report

colab-check: setup  ## notebook 05's set-up cells as in Colab: clone this checkout's HEAD, import from the clone
	$(PY) tools/colab_check.py

clean:
	rm -rf $(VENV) data .pytest_cache
