"""Gather shard Parquet files into one table (snakemake script: input -> output[0])."""
import sys

from o1pruner.io import gather_parquet

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
gather_parquet(list(snakemake.input), snakemake.output[0])  # noqa: F821
