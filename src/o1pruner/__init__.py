"""O1-Pruner: Length-Harmonizing Fine-Tuning (Luo et al., arXiv 2501.12570) as a workflow.

Every stage of the Snakemake DAG is a function in this package and a subcommand of
the ``o1pruner`` console script, so it can be run and tested without Snakemake.
"""

__version__ = "0.1.0"
