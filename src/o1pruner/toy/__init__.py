"""The toy long-thought reference model (:mod:`.model`), the anatomy of its responses
(:mod:`.anatomy`) and the check that its build converges (:mod:`.check`). The generic stages never
import this package: the command line hooks the anatomy into grading and evaluation."""
