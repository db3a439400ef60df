"""Several processes with torch.distributed: ``torchrun --nproc_per_node=N -m benchmarks.run ...``.

When a process group is initialised (``init_from_env`` does it under torchrun: gloo on CPU, nccl
on GPU), ``gkd.fit`` wraps the model in ``DistributedDataParallel`` and each rank learns from its
share of the training items: every ``world``-th labelled and visible node (node tasks, whose
forward pass stays full-graph), every ``world``-th graph or image of each epoch's shuffled order
(graph and image tasks); with sampling (``TrainConfig.fanouts``), every ``world``-th seed node, each
rank drawing its own neighbourhoods (the same number of batches on every rank). DDP averages the model's
gradients; a method's own parameters
(projectors) are averaged here after each backward pass, so every rank holds the same weights,
computes the same validation score and stops at the same epoch. Ranks seed alike, so with equal
shares the averaged gradient equals the single-process one.
"""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


def active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0 (or the only process): the one that writes results and prints."""
    return rank() == 0


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group torchrun describes in the environment (``WORLD_SIZE`` > 1): gloo on
    a CPU, nccl on a GPU. Returns whether this process is now one of several."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or active():
        return active()
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return active()


def from_rank0(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object; what other ranks pass is ignored)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def rank0_decides(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (e.g. "the teacher is cached"): ranks must agree on whether
    to train, or one would wait forever for the others' gradients."""
    return bool(from_rank0(flag))


def share(index: Tensor) -> Tensor:
    """This rank's share of ``index``: every ``world``-th entry, starting at its rank, of the
    first ``world * (len // world)`` entries, so every rank gets as many (DDP steps in lockstep:
    one more batch on one rank would leave the others waiting; up to ``world - 1`` entries sit
    out, a different few each epoch where the order is shuffled)."""
    if not active():
        return index
    usable = len(index) - len(index) % world()
    return index[:usable][rank()::world()]


def share_mask(mask: Tensor) -> Tensor:
    """``mask`` kept only at this rank's share of its true positions."""
    if not active():
        return mask
    mine = torch.zeros_like(mask)
    mine[share(mask.nonzero().view(-1))] = True
    return mine


def wrap(model: nn.Module) -> nn.Module:
    """``model`` in DistributedDataParallel when several processes train it, else itself."""
    if not active():
        return model
    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def average_gradients(parameters: list[nn.Parameter]) -> None:
    """Average the gradients of parameters DDP does not own (a method's projectors) over ranks.
    A parameter without a gradient on this rank takes part with zeros, so every rank makes the
    same collective calls."""
    if not active():
        return
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= world()
