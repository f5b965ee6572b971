"""The torch.distributed group of a training job (torchrun: one process per GPU), seen the same
way by the run loop and the LH trainer. torch is imported when asked: the command line and the
workflow import the training package without it."""

from __future__ import annotations


def world() -> tuple[int, int]:
    """(world size, rank) of the torch.distributed group, (1, 0) outside one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def barrier() -> None:
    """Wait for every process of the group (nothing outside one)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
