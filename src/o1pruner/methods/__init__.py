"""The methods compared in the paper's Table 2: the registry (:mod:`.registry`) and the training
set each one learns from (:mod:`.datasets`)."""
