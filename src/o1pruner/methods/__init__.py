"""The methods compared in the paper's Table 2: the registry (:mod:`.registry`), the training
set each one learns from (:mod:`.datasets`), and the length rewards, O1-Pruner's and its peers'
(:mod:`.rewards`)."""
