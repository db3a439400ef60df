"""Planetoid citation graphs (Cora, CiteSeer, PubMed) through PyG's raw-file reader.

On disk: ``<root>/planetoid/<Name>/raw/ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``.
The files are read in place (nothing is written beside them), so the root may be read-only.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch_geometric.data import Data
from torch_geometric.io import read_planetoid_data

from ..errors import DataNotFoundError
from .catalog import register
from .splits import per_class_split, random_split
from .task import Task

NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
RAW_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
SPLITS = ("public", "cpf", "random")


@register(*NAMES, kind="node", splits=SPLITS,
          files=lambda name: f"planetoid/{NAMES[name]}/raw/ind.{name}.{{{','.join(RAW_PARTS)}}}")
def load_planetoid(name: str, root: Path, split: str = "public", seed: int = 0, download: bool = False,
                   normalize_features: bool = False) -> Task:
    """Load a Planetoid graph with the ``public`` split, the ``cpf`` split (20 train / 30 valid
    labels per class, the rest test; drawn with ``seed``) or a ``random`` 60 / 20 / 20 split of
    all nodes (the "full-supervised" setting; drawn with ``seed``). Features are the binary bag of words
    as released (GLNN and CPF train on them so); ``normalize_features`` row-normalises them."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {name}; valid splits: {', '.join(SPLITS)}")
    pretty = NAMES[name]
    raw_dir = Path(root) / "planetoid" / pretty / "raw"
    files = [raw_dir / f"ind.{name}.{part}" for part in RAW_PARTS]
    if not all(f.exists() for f in files):
        if not download:
            missing = "\n  ".join(str(f) for f in files if not f.exists())
            raise DataNotFoundError(
                f"{pretty} is not on disk. Place the Planetoid raw files here:\n  {missing}\n"
                f"(the root is {root}; set it with --root or GKD_DATA_ROOT), or pass "
                f"download=True (CLI --download) to fetch them when a network is available."
            )
        _download(pretty, Path(root) / "planetoid")
    data = read_planetoid_data(str(raw_dir), name)
    x = data.x / data.x.sum(dim=1, keepdim=True).clamp(min=1) if normalize_features else data.x
    graph = Data(x=x, edge_index=data.edge_index, y=data.y, num_nodes=data.num_nodes)
    if split == "public":
        masks = {"train": data.train_mask, "valid": data.val_mask, "test": data.test_mask}
        indices = {k: m.nonzero().view(-1) for k, m in masks.items()}
    elif split == "cpf":
        indices = per_class_split(data.y, 20, 30, seed, candidates=_real_nodes(data))
    else:
        real = _real_nodes(data)
        indices = {k: real[v] for k, v in random_split(real.numel(), (0.6, 0.2, 0.2), seed).items()}
    return Task(
        name=name, kind="node", data=graph, split=indices, num_classes=int(data.y.max()) + 1,
        info={"split": split, "split_seed": None if split == "public" else seed},
    )


def _real_nodes(data: Data) -> torch.Tensor:
    """Nodes that exist in the release. PyG pads CiteSeer's 15 missing test ids with zero
    features and label 0 (they keep their edges); they belong in no split."""
    in_public = data.train_mask | data.val_mask | data.test_mask
    padded = (data.x.abs().sum(dim=1) == 0) & ~in_public
    return (~padded).nonzero().view(-1)


def _download(pretty: str, folder: Path) -> None:
    from torch_geometric.datasets import Planetoid

    try:
        Planetoid(str(folder), pretty)
    except Exception as exc:  # network errors come in many types
        raise DataNotFoundError(f"could not download {pretty} into {folder}: {exc}") from exc
