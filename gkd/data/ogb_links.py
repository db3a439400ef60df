"""OGB link-prediction sets (ogbl-collab, ogbl-citation2, ogbl-ppa) read from OGB's own on-disk
layout, as link tasks (``gkd.data.links``) on OGB's official split.

On disk, one folder per dataset, as OGB's zips unpack (``collab.zip``, ``citation-v2.zip``,
``ppassoc.zip``), the top folder renamed::

    <root>/ogb/ogbl_collab/        raw/node-feat.csv.gz, raw/num-node-list.csv.gz,
                                   split/time/{train,valid,test}.pt
    <root>/ogb/ogbl_citation2/     the same raw files, split/time/{train,valid,test}.pt
    <root>/ogb/ogbl_ppa/           the same raw files, split/throughput/{train,valid,test}.pt

Those are the files read. OGB's zips also hold ``raw/edge.csv.gz`` (the graph OGB's
``PygLinkPropPredDataset`` builds: its training edges), ``num-edge-list.csv.gz`` and, for
collab, ``edge_weight`` / ``edge_year``; they are not needed here (the training edges come from
``train.pt``). Each split file is a dict of tensors, read with ``torch.load(weights_only=True)``
only (nothing in it runs; a file that holds anything else, NumPy arrays say, is refused with a
one-line ``InvalidDataError`` that says how to re-save it):

- ogbl-collab, ogbl-ppa: ``edge`` [n, 2]; valid and test also ``edge_neg`` [m, 2], one pool of
  negatives every positive is ranked against (Hits@K). collab's files also hold ``weight`` and
  ``year``, not used.
- ogbl-citation2: ``source_node`` [n], ``target_node`` [n]; valid and test also
  ``target_node_neg`` [n, k] (OGB: k = 1000): the negatives of positive i are the pairs
  (source_node[i], target_node_neg[i, j]), ranked against it alone (MRR; ``pair_query`` = i).

The split type, ``add_inverse_edge`` (recorded in ``info``), the metric and the url come from the
``ogb`` package's linkproppred master.csv; ``metric`` is OGB's eval metric (``hits@50`` collab,
``mrr`` citation2, ``hits@100`` ppa, gkd spells them alike) and ``evaluator`` the set's name.

The task: ``x`` the node features as float32 (ppa's 58 one-hot species columns included); the
training positives OGB's training edges, each unordered pair once (collab's repeated
collaborations across years, and an edge stored in both directions, collapse to the first row
that names the pair; self-loops dropped), the training graph those pairs in both directions
(citation2's directed citations too, symmetrised as OGB's examples do). Valid and test positives
and negatives are kept exactly as OGB gives them, so OGB's official evaluation sets stay intact.
A held-out positive may not be in the training graph (``validation``), and collab's valid / test
collaborations (2018, 2019) can repeat pairs that collaborated in earlier, training years: such
pairs are removed from the training pairs and the training graph (not from the evaluation sets),
counted in ``info`` (``train_pairs_held_out``, and of them ``..._valid`` / ``..._test``). OGB's
leaderboard also lets collab's models read the validation edges at test time; this task does not
add them.

Split files are checked before any training: integer node ids, OGB's shapes, ids within the node
count of ``raw/num-node-list.csv.gz``; an ``InvalidDataError`` names the file, the entry and the
row. The node features are the slow part to read (csv.gz): they are cached as ``gkd.data.ogb``
caches (``ogb_files.cached``, keyed by the two raw files read); the split files are read on each
load (ogbl-citation2's pairs, negatives expanded, would make a cache of several GB).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import InvalidDataError
from ..graph.pairs import contains, edge_keys, first_of_each_pair
from .catalog import register
from .links import both_directions, link_task
from .ogb_files import cached, dataset_folder, master, prepare, read_array
from .task import Task
from .validation import where

NAMES = ("ogbl-collab", "ogbl-citation2", "ogbl-ppa")
PER_SOURCE = frozenset({"ogbl-citation2"})
"""Sets whose split files hold ``source_node`` / ``target_node`` and negatives per positive."""

#: Bump when the cached node payload changes: old cache files are then ignored.
CACHE_VERSION = 1
SPLITS = ("train", "valid", "test")
RAW = ("raw/num-node-list.csv.gz", "raw/node-feat.csv.gz")
_NODE_PAYLOAD = frozenset({"x", "num_nodes", "info"})


@dataclass(frozen=True)
class _LinkMeta:
    """One column of OGB's linkproppred master.csv, as gkd uses it."""

    name: str
    split_type: str
    add_inverse_edge: bool
    metric: str
    url: str


def _files(name: str) -> str:
    return (f"ogb/{name.replace('-', '_')}/ (OGB's layout: raw/node-feat.csv.gz, raw/num-node-list.csv.gz, "
            f"split/<type>/{{train,valid,test}}.pt)")


@register(*NAMES, kind="link", splits=("official",), files=_files)
def load_ogb_links(name: str, root: Path, download: bool = False, seed: int = 0) -> Task:
    """Load ogbl-collab, ogbl-citation2 or ogbl-ppa as a link ``Task`` on OGB's official split
    (``seed`` changes nothing); see the module docstring for what is read and how."""
    meta = _meta(name)
    folder = dataset_folder(root, meta.name)
    prepare(meta.name, meta.url, folder, _required(meta), download)
    nodes, cache_file, hit = cached(meta.name, CACHE_VERSION, folder, [folder / f for f in RAW],
                                    lambda: _read_nodes(folder), keys=_NODE_PAYLOAD)
    num_nodes = int(nodes["num_nodes"])
    parts = {part: _read_part(meta, _split_file(meta, folder, part), num_nodes, folder / RAW[0]) for part in SPLITS}
    train, counts = _training_pairs(parts, num_nodes)
    info = {"source": "ogb", "folder": str(folder), "split_type": meta.split_type,
            "add_inverse_edge": meta.add_inverse_edge, "cache_file": str(cache_file), "from_cache": hit,
            **nodes["info"], **counts}
    if meta.name in PER_SOURCE:
        info["negatives_per_positive"] = int(parts["valid"]["per_positive"])
    valid, test = parts["valid"], parts["test"]
    files = {part: str(_split_file(meta, folder, part)) for part in SPLITS}
    files.update({"edges": files["train"], "pairs": str(folder / "split" / meta.split_type),
                  "rows": str(folder / RAW[1]), "features": str(folder / RAW[1])})
    try:
        return link_task(meta.name, nodes["x"], both_directions(train), train, valid["pos"], valid["neg"],
                         test["pos"], test["neg"], valid_query=valid.get("query"), test_query=test.get("query"),
                         metric=meta.metric, evaluator=meta.name, info=info)
    except InvalidDataError as exc:
        raise where(files)(exc) from exc


# --------------------------------------------------------------------------- metadata and files


def _meta(name: str) -> _LinkMeta:
    col = master("link")[name]
    metric = col["eval metric"]
    if not (metric == "mrr" or re.fullmatch(r"hits@\d+", metric)):
        raise ValueError(f"{name}: OGB's metric {metric!r} is not one gkd's link tasks score (hits@K, mrr)")
    return _LinkMeta(name=name, split_type=col["split"], add_inverse_edge=col["add_inverse_edge"] == "True",
                     metric=metric, url=col["url"])


def _required(meta: _LinkMeta) -> list[str]:
    return [*RAW, *(f"split/{meta.split_type}/{part}.pt" for part in SPLITS)]


def _split_file(meta: _LinkMeta, folder: Path, part: str) -> Path:
    return folder / "split" / meta.split_type / f"{part}.pt"


def _read_nodes(folder: Path) -> dict:
    """The node count (``num-node-list.csv.gz``, one row: one graph) and the features."""
    counts_file, features_file = (folder / f for f in RAW)
    counts = read_array(counts_file)
    if counts.shape != (1, 1) or counts[0, 0] < 1:
        raise InvalidDataError(f"{counts_file}: holds {counts.shape[0]} rows of {counts.shape[1]} values; a link set "
                               f"is one graph: one row, its node count", "rows")
    num_nodes = int(counts[0, 0])
    x = torch.from_numpy(read_array(features_file))
    if x.size(0) != num_nodes:
        raise InvalidDataError(f"{features_file}: {x.size(0)} rows for the {num_nodes} nodes of {counts_file}", "rows")
    info = {"num_nodes": num_nodes}
    if not x.is_floating_point():
        info["x"] = "integer features (one-hot) read as float32"
    return {"x": x.float(), "num_nodes": num_nodes, "info": info}


def _unreadable(path: Path, exc: Exception) -> InvalidDataError:
    """One line: why ``torch.load(weights_only=True)`` refused ``path``, and what to do."""
    text = " ".join(str(exc).split())
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return InvalidDataError(
            f"{path}: torch.load(weights_only=True) cannot read it (it names {named.group(1)}, which weights_only "
            f"does not load); gkd reads OGB's split files as a dict of torch tensors only: where you trust the file, "
            f"load it with weights_only=False and save it again as {{key: torch.as_tensor(value)}} with torch.save",
            "split")
    refused = re.search(r"WeightsUnpickler error: (.*?)(?: Check the documentation|$)", text)
    why = f"the unpickler refused it: {refused.group(1)}" if refused else f"{type(exc).__name__}: {text}"
    return InvalidDataError(f"{path}: torch.load(weights_only=True) cannot read it ({why[:240]}); the file may be cut "
                            f"short or not one torch.save wrote: unpack OGB's zip for it again", "split")


def _load(path: Path) -> dict:
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle naming code, a NumPy array, a file cut short: refused, never unpickled freely
        raise _unreadable(path, exc) from exc
    if not isinstance(content, dict):
        raise InvalidDataError(f"{path}: holds a {type(content).__name__}; OGB's split files hold a dict of tensors",
                               "split")
    return content


def _entry(content: dict, key: str, path: Path, shape: tuple[int | None, ...]) -> Tensor:
    """``content[key]``: an integer tensor of ``shape`` (None: any size)."""
    if key not in content:
        held = ", ".join(repr(k) for k in content) or "nothing"
        raise InvalidDataError(f"{path}: no {key!r} entry (it holds {held})", "split")
    value = content[key]
    if not isinstance(value, Tensor):
        raise InvalidDataError(f"{path}: {key!r} is a {type(value).__name__}, not a tensor", "split")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise InvalidDataError(f"{path}: {key!r} holds {value.dtype} values; node ids are integers", "split")
    if value.dim() != len(shape) or any(s is not None and value.size(i) != s for i, s in enumerate(shape)):
        expected = ", ".join("n" if s is None and i == 0 else "k" if s is None else str(s) for i, s in enumerate(shape))
        raise InvalidDataError(f"{path}: {key!r} has shape {list(value.shape)}; OGB's is [{expected}]", "split")
    if value.numel() == 0:
        raise InvalidDataError(f"{path}: {key!r} is empty; every split needs its edges (and held-out ones their "
                               f"negatives)", "split")
    return value.long()


def _in_range(ids: Tensor, key: str, path: Path, num_nodes: int, counts_file: Path) -> None:
    """Every node id of ``ids`` (as stored: [n], [n, 2] or [n, k]) below ``num_nodes``."""
    bad = (ids < 0) | (ids >= num_nodes)
    if not bool(bad.any()):
        return
    row, *col = (int(v) for v in bad.nonzero()[0])
    if ids.dim() == 1:
        at = f"entry {row}"
    elif key in ("edge", "edge_neg"):
        at = f"row {row} ({int(ids[row, 0])}, {int(ids[row, 1])})"
    else:
        at = f"row {row}, column {col[0]}"
    node = int(ids[row, col[0]] if col else ids[row])
    raise InvalidDataError(f"{path}: {key!r} {at} names node {node}, outside the {num_nodes} nodes of {counts_file}",
                           "pairs")


def _read_part(meta: _LinkMeta, path: Path, num_nodes: int, counts_file: Path) -> dict[str, Tensor]:
    """One split file, checked: ``pos`` (2 x n); for valid and test ``neg`` (2 x m) and, for sets
    with negatives per positive, ``query`` (m: the positive each negative is ranked against) and
    ``per_positive``."""
    content = _load(path)
    held_out = path.stem != "train"

    def ids(key: str, shape: tuple[int | None, ...]) -> Tensor:
        value = _entry(content, key, path, shape)
        _in_range(value, key, path, num_nodes, counts_file)
        return value

    if meta.name not in PER_SOURCE:
        out = {"pos": ids("edge", (None, 2)).t()}
        if held_out:
            out["neg"] = ids("edge_neg", (None, 2)).t()
        return out
    source = ids("source_node", (None,))
    out = {"pos": torch.stack([source, ids("target_node", (source.numel(),))])}
    if held_out:
        negatives = ids("target_node_neg", (source.numel(), None))
        per = negatives.size(1)
        out["neg"] = torch.stack([source.repeat_interleave(per), negatives.reshape(-1)])
        out["query"] = torch.arange(source.numel()).repeat_interleave(per)
        out["per_positive"] = torch.tensor(per)
    return out


# --------------------------------------------------------------------------- the training pairs


def _training_pairs(parts: dict[str, dict[str, Tensor]], num_nodes: int) -> tuple[Tensor, dict[str, int]]:
    """OGB's training edges, each unordered pair once and no self-loop, less the pairs that are
    valid or test positives; the counts of what was dropped."""
    rows = parts["train"]["pos"]
    loops = rows[0] == rows[1]
    edges = rows[:, ~loops]
    distinct = edges[:, first_of_each_pair(edges, num_nodes)]
    valid, test = parts["valid"]["pos"], parts["test"]["pos"]
    in_valid = contains(edge_keys(valid, num_nodes), distinct, num_nodes)
    in_test = contains(edge_keys(test, num_nodes), distinct, num_nodes)
    held = in_valid | in_test
    counts = {
        "train_edges_in_file": int(rows.size(1)), "train_self_loops_dropped": int(loops.sum()),
        "train_repeats_collapsed": int(edges.size(1) - distinct.size(1)),
        "train_pairs_held_out": int(held.sum()), "train_pairs_held_out_valid": int(in_valid.sum()),
        "train_pairs_held_out_test": int(in_test.sum()), "train_pairs": int((~held).sum()),
        "valid_positives_also_test": int(contains(edge_keys(test, num_nodes), valid, num_nodes).sum()),
    }
    return distinct[:, ~held], counts


__all__ = ["load_ogb_links"]
