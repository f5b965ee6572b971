"""Running on GPUs: the pre-flight plan check (:mod:`.plan`), GPU acceptance (:mod:`.gpu_check`),
the devices a job sees (:mod:`.devices`) and the resources of retried jobs (:mod:`.retries`)."""
