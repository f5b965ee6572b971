"""Evaluation of a run (:mod:`.evaluate`), the Accuracy-Efficiency Score (:mod:`.aes`), paired
bootstrap intervals over problems (:mod:`.bootstrap`) and length by difficulty (:mod:`.difficulty`)."""
