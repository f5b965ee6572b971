"""A fake CUDA for tests on a CPU machine: torch reports ``n`` devices and a CUDA 13 build, the
driver reports a version, and moves to "cuda" stay on the CPU, so the GPU branches of o1pruner
run here.

Like torch 2.13 (torch/cuda/__init__.py), ``is_available()`` initialises the CUDA driver (and
torch's fork guard) unless ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, when it counts through NVML; so
does ``device_count()`` only when NVML fails, which it never does here. Such driver calls are
recorded in ``TOUCHED``: the fake vLLM refuses to fork after one, as a real forked engine dies.
"""

from __future__ import annotations

import os

TOUCHED: list[str] = []   # the calls that initialised the CUDA driver in this process
MOVES: list[str] = []     # devices that tensors / modules were asked to move to


def driver_touched() -> bool:
    return bool(TOUCHED)


def install(monkeypatch, devices: int = 2, cuda: str = "13.0", driver: str = "580.65.06") -> None:
    import torch
    import transformers

    from o1pruner import devices as dev

    TOUCHED.clear()
    MOVES.clear()

    def is_available() -> bool:
        if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1":
            TOUCHED.append("torch.cuda.is_available (cudaGetDeviceCount)")
        return devices > 0

    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.cuda, "is_available", is_available)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: devices)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(dev, "driver_version", lambda: driver)

    def staying(original):
        def to(self, *args, **kwargs):
            wanted = [a for a in args if isinstance(a, (str, torch.device))] + \
                [kwargs[k] for k in ("device",) if k in kwargs]
            if any(str(d).startswith("cuda") for d in wanted):
                MOVES.append("cuda")
                args = tuple("cpu" if str(a).startswith("cuda") else a for a in args)
                kwargs = {k: "cpu" if k == "device" and str(v).startswith("cuda") else v
                          for k, v in kwargs.items()}
            return original(self, *args, **kwargs)
        return to

    monkeypatch.setattr(torch.nn.Module, "to", staying(torch.nn.Module.to))
    monkeypatch.setattr(transformers.BatchEncoding, "to", staying(transformers.BatchEncoding.to))
