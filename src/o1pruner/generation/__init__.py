"""Generation: the engines (vLLM on the cluster, transformers on a CPU) behind one output schema
(:mod:`.engines`), and pre-sampling K solutions per training problem (:mod:`.sampling`)."""
