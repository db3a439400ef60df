"""Split helpers shared by the loaders."""
from __future__ import annotations

import numpy as np
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


def per_class_split_numpy(y: Tensor, train_per_class: int, valid_per_class: int, seed: int) -> dict[str, Tensor]:
    """The CPF split as GLNN's and CPF's code draws it (their ``get_train_val_test_split``): one
    ``numpy.random.RandomState(seed)``; for each class in ascending order, ``train_per_class``
    nodes chosen without replacement from that class's nodes in id order; then, class by class
    again, ``valid_per_class`` from the rest; every other node is test. The same seed on the same
    graph (node order and labels) gives the authors' split; indices returned in ascending order."""
    state = np.random.RandomState(seed)
    labels = y.numpy()
    classes = np.unique(labels)

    def draw(count: int, taken: np.ndarray) -> np.ndarray:
        chosen = []
        for c in classes:
            members = np.flatnonzero((labels == c) & ~taken)
            if members.size < count:
                raise ValueError(f"class {int(c)} has {members.size} nodes left, fewer than the {count} the "
                                 f"split needs")
            chosen.append(state.choice(members, count, replace=False))
        return np.concatenate(chosen)

    taken = np.zeros(labels.size, dtype=bool)
    train = draw(train_per_class, taken)
    taken[train] = True
    valid = draw(valid_per_class, taken)
    taken[valid] = True
    return {name: torch.from_numpy(np.sort(part)).long()
            for name, part in (("train", train), ("valid", valid), ("test", np.flatnonzero(~taken)))}
