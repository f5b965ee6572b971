"""TRL's SFT and DPO trainers with o1pruner's optimizer switch (``training.optimizer``).

Each is TRL's class plus :class:`o1pruner.training.optimizers.OptimizerMixin`, and its config TRL's plus
the ``optimizer`` field; nothing else changes. The LH trainer and its config are in
:mod:`o1pruner.training.lh_trainer`; :data:`o1pruner.training.train.TRAINERS` maps every trainer to its pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import trl

from o1pruner.training.optimizers import OptimizerArguments, OptimizerMixin


@dataclass
class SFTConfig(OptimizerArguments, trl.SFTConfig):
    """``trl.SFTConfig`` + ``optimizer``."""


class SFTTrainer(OptimizerMixin, trl.SFTTrainer):
    """``trl.SFTTrainer`` that builds Adam-mini when ``args.optimizer == "adam_mini"``."""


@dataclass
class DPOConfig(OptimizerArguments, trl.DPOConfig):
    """``trl.DPOConfig`` + ``optimizer``."""


class DPOTrainer(OptimizerMixin, trl.DPOTrainer):
    """``trl.DPOTrainer`` that builds Adam-mini when ``args.optimizer == "adam_mini"``."""
