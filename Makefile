# Two commands for a fresh machine (see README.md):
#   make lab    set up .venv (first time only) and open JupyterLab on the course
#   make test   set up .venv (first time only) and run every test and notebook (CPU tier)
# For authors (docs/authoring.md): make lint, make execute NB=..., make exercises, make clean
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NBVAL   := --nbval --nbval-current-env --nbval-cell-timeout=300 --nbval-sanitize-with nbval_sanitize.cfg
# tests and nbval record exercise checks in a progress file of their own, never the learner's
TEST_PROGRESS := $(abspath $(VENV))/test-progress.json

.PHONY: setup lab test test-fast test-gpu lint execute exercises progress clean

setup: $(STAMP)

$(STAMP): requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Rooted at the repository (exercises/, kernels/ and results/ in the file browser), the doctor
# notebook open first. Containers often run as root, which JupyterLab refuses without --allow-root.
lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) --ServerApp.root_dir=. \
		--LabApp.default_url=/lab/tree/notebooks/00_environment_doctor.ipynb

test: $(STAMP)
	rm -f $(TEST_PROGRESS)
	COURSE_PROGRESS_FILE=$(TEST_PROGRESS) $(BIN)/python -m pytest tests notebooks solutions $(NBVAL) -p no:cacheprovider -q

# ruff (code and notebooks), committed notebooks clean and within budget, exercises/ in sync,
# the CI workflows under actionlint
lint: $(STAMP) lint-workflows
	$(BIN)/ruff check .
	$(BIN)/python -m course nb check notebooks/*.ipynb solutions/*.ipynb exercises/*.ipynb
	$(BIN)/python -m course generate --check

# re-execute notebooks on this machine's tier and clean them: make execute NB=notebooks/03_fp8_e4m3.ipynb
execute: $(STAMP)
	$(BIN)/python -m course nb execute $(NB)

# On a GPU node with torch + triton preinstalled (offline: see README, "GPU tier")
test-gpu:
	PY=$(PY) scripts/test_gpu.sh

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -p no:cacheprovider -q

# regenerate exercises/ from solutions/ (refuses to overwrite edited learner notebooks)
exercises: $(STAMP)
	$(BIN)/python -m course generate

progress: $(STAMP)
	$(BIN)/python -m course progress

clean:
	rm -rf $(VENV) *.egg-info build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# ---- the course site (README, "Site, CI, Colab and Binder") --------------------------------------
.PHONY: site test-site lint-workflows
SITE_STAMP := $(VENV)/.site-installed

$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(BIN)/python -m pip install --quiet -r requirements-site.txt
	touch $(SITE_STAMP)

# static HTML from the notebooks' stored outputs (nothing is executed) -> build/site/index.html
site: $(SITE_STAMP)
	$(BIN)/python scripts/site_build.py

# headless Chromium visits every page of the built site (tests/site/check_*.py, which make test
# does not collect)
test-site: site
	$(BIN)/python -m pytest tests/site -o python_files='check_*.py' -p no:cacheprovider -q

lint-workflows: $(STAMP)
	$(BIN)/actionlint -config-file .github/actionlint.yaml .github/workflows/*.yml
