"""Split helpers shared by the loaders."""
from __future__ import annotations

import torch
from torch import Tensor


def per_class_split(
    y: Tensor, train_per_class: int, valid_per_class: int, seed: int, candidates: Tensor | None = None
) -> dict[str, Tensor]:
    """CPF's random split: ``train_per_class`` and ``valid_per_class`` labelled nodes drawn at
    random from every class, every other candidate node is test. Deterministic in ``seed``.

    Used by CPF (Yang et al., WWW 2021) and GLNN (Zhang et al., ICLR 2022) with 20 / 30.
    """
    gen = torch.Generator().manual_seed(seed)
    pool = torch.arange(y.numel()) if candidates is None else candidates
    train, valid = [], []
    for c in torch.unique(y[pool]).tolist():
        members = pool[y[pool] == c]
        members = members[torch.randperm(members.numel(), generator=gen)]
        if members.numel() < train_per_class + valid_per_class:
            raise ValueError(
                f"class {c} has {members.numel()} nodes, fewer than the "
                f"{train_per_class} + {valid_per_class} the split needs"
            )
        train.append(members[:train_per_class])
        valid.append(members[train_per_class : train_per_class + valid_per_class])
    train_idx, valid_idx = torch.cat(train).sort().values, torch.cat(valid).sort().values
    taken = torch.zeros(y.numel(), dtype=torch.bool)
    taken[train_idx] = taken[valid_idx] = True
    in_pool = torch.zeros(y.numel(), dtype=torch.bool)
    in_pool[pool] = True
    test_idx = (in_pool & ~taken).nonzero().view(-1)
    return {"train": train_idx, "valid": valid_idx, "test": test_idx}


def random_split(num_items: int, fractions: tuple[float, float, float], seed: int) -> dict[str, Tensor]:
    """Shuffle ``num_items`` ids and cut them into train / valid / test by ``fractions``."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(num_items, generator=gen)
    n_train = int(round(fractions[0] * num_items))
    n_valid = int(round(fractions[1] * num_items))
    return {
        "train": order[:n_train].sort().values,
        "valid": order[n_train : n_train + n_valid].sort().values,
        "test": order[n_train + n_valid :].sort().values,
    }
