"""One training run (:mod:`.train`): its effective settings (:mod:`.settings`), the LH trainer
(:mod:`.lh_trainer`, the paper's Eq. 10 loss), TRL's SFT/DPO trainers (:mod:`.trl_trainers`), the
optimizer switch (:mod:`.optimizers`) and the run folder (:mod:`.run_folder`)."""
