"""Running on GPUs: the pre-flight plan check (:mod:`.plan`), GPU acceptance (:mod:`.gpu_check`),
and the resources of retried jobs (:mod:`.retries`)."""
