"""Link prediction tasks: a graph's edges split into the edges models see and the pairs they score.

A link task (``Task.kind == "link"``) holds one ``Data``:

- ``x`` and ``edge_index``: every node's features and the *training graph*, the edges message
  passing may use while training (both directions). No held-out edge is in it (checked when
  the task is made: ``validation``).
- ``pairs`` (2 x P), ``pair_label`` (P: 1 an edge, 0 a sampled non-edge), ``pair_graph`` (P: 0,
  the pair is scored on the training graph; 1, on the inference graph): every pair a split
  scores. Split indices are pair ids; ``train`` holds the training edges (positives; negatives
  are sampled afresh at every step), ``valid`` and ``test`` positives and their negatives.
- ``pair_query`` (P, optional): for a set whose every positive has negatives of its own (OGB's
  ogbl-citation2, scored by MRR), the positive a pair is ranked against; -1 for pairs ranked
  against all of their split's negatives (Hits@K).
- ``inference_edge_index`` and ``seen`` (production setting only): the edges observed at
  inference (the training graph, plus the edges of the nodes that appear only at inference),
  and which nodes training sees. Training, its negatives and its validation pairs use seen
  nodes alone.

Two settings (LLP, Guo et al., ICML 2023; snap-research/linkless-link-prediction):

- ``transductive``: the undirected edges split into train / valid / test (``valid`` and
  ``test`` shares; LLP's code 5% and 10%, its paper 5% and 15%, see ``TRANSDUCTIVE``), each
  held-out edge paired with one sampled non-edge; the training graph is the training edges.
- ``production`` (LLP's ``generate_production_split.py``): a share of the nodes is new, seen
  only at inference. Of the edges among old nodes, ``test`` are held out, ``extra`` appear only
  at inference, the rest train; of those, ``valid`` are held out for model selection (scored on
  the training graph). Of the edges touching new nodes, ``test`` are held out, the rest are
  observed at inference. The test positives are scored on the inference graph against one
  shared set of sampled non-edges, overall and by kind (``test-old-old``, ``test-old-new``,
  ``test-new-new``).

Splits are drawn with gkd's own code from ``seed`` (torch's generator); the shares and the
procedure follow LLP's code, not its random draws.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..graph.components import undirected_simple
from ..graph.pairs import sample_non_edges
from .catalog import register
from .planetoid import NAMES, RAW_PARTS, load_planetoid
from .synthetic import NODE_PRESETS, csbm
from .task import Task

SETTINGS = ("transductive", "production")


@dataclass(frozen=True)
class TransductiveShares:
    """Shares of the undirected edges held out for validation and test."""

    valid: float = 0.05
    test: float = 0.15


@dataclass(frozen=True)
class ProductionShares:
    """LLP's production split for Cora and CiteSeer (``generate_production_split.py``: 0.3 of the
    nodes new, 0.3 of each kind of edge held out for test, 0.3 of the training edges for
    validation, 0.1 of the old-old edges observed only at inference)."""

    new_nodes: float = 0.3
    test: float = 0.3
    valid: float = 0.3
    extra: float = 0.1


TRANSDUCTIVE = TransductiveShares()
"""The issue's and LLP paper's shares: 5% validation, 15% test (LLP's code uses 10% test)."""

PRODUCTION = ProductionShares()


def both_directions(pairs: Tensor) -> Tensor:
    """``pairs`` followed by each pair reversed."""
    return torch.cat([pairs, pairs.flip(0)], dim=1)


def link_task(name: str, x: Tensor, message_edges: Tensor, train: Tensor, valid: Tensor, valid_neg: Tensor,
              test: Tensor, test_neg: Tensor, *, extra_tests: dict[str, Tensor] | None = None,
              inference_edges: Tensor | None = None, seen: Tensor | None = None,
              valid_query: Tensor | None = None, test_query: Tensor | None = None, metric: str = "hits@20",
              evaluator: str | None = None, info: dict | None = None) -> Task:
    """A link task from its parts (each a 2 x n tensor of node pairs): ``message_edges``, the
    training graph; ``train``, the training positives; ``valid`` / ``test`` positives and their
    sampled negatives (``*_neg``). ``extra_tests``: more test splits of positives, scored against
    ``test_neg`` (the production setting's kinds of test edge). ``inference_edges`` and ``seen``:
    the production setting (test pairs are then scored on the inference graph). ``valid_query``
    and ``test_query``: for sets scored by MRR with negatives per positive, the index of the
    positive each negative is ranked against. ``metric``: ``hits@K`` or ``mrr``, the validation
    score that selects the epoch."""
    num_nodes = x.size(0)
    parts: list[tuple[str, Tensor, float, int, Tensor | None]] = [("train", train, 1.0, 0, None)]
    later = 1 if inference_edges is not None else 0
    parts += [("valid", valid, 1.0, 0, None), ("valid", valid_neg, 0.0, 0, valid_query),
              ("test", test, 1.0, later, None), ("test", test_neg, 0.0, later, test_query)]
    for split_name, positives in (extra_tests or {}).items():
        parts += [(split_name, positives, 1.0, later, None), (split_name, test_neg, 0.0, later, None)]
    queried = valid_query is not None or test_query is not None
    pairs, labels, graphs, queries = [], [], [], []
    split: dict[str, list[Tensor]] = {}
    start = 0
    for split_name, chunk, label, graph, query in parts:
        count = chunk.size(1)
        pairs.append(chunk.long())
        labels.append(torch.full((count,), label))
        graphs.append(torch.full((count,), graph, dtype=torch.long))
        if queried:
            own = torch.arange(count) if label == 1.0 else (query if query is not None else torch.full((count,), -1))
            queries.append(own.long().view(-1))
        split.setdefault(split_name, []).append(torch.arange(start, start + count))
        start += count
    data = Data(x=x, edge_index=message_edges.long(), num_nodes=num_nodes, pairs=torch.cat(pairs, dim=1),
                pair_label=torch.cat(labels), pair_graph=torch.cat(graphs))
    if queried:
        data.pair_query = torch.cat(queries)
    if inference_edges is not None:
        data.inference_edge_index = inference_edges.long()
        data.seen = seen if seen is not None else torch.ones(num_nodes, dtype=torch.bool)
    setting = "production" if inference_edges is not None else "transductive"
    return Task(name=name, kind="link", data=data, split={k: torch.cat(v) for k, v in split.items()},
                num_classes=1, objective="binary", metric=metric, evaluator=evaluator,
                info={"setting": setting, **(info or {})})


def scoring_graph(task: Task, graph: int, device: torch.device | str) -> Data:
    """The graph a link task's pairs of ``pair_graph == graph`` are scored on, on ``device``: 0,
    the training graph (the task's own ``Data``); 1, the inference graph of the production
    setting (every node, the edges observed at inference), built once and kept with the task."""
    if graph == 0:
        return task.data_on(device)
    kept = task.__dict__.setdefault("_inference_graphs", {})
    if str(device) not in kept:
        data = task.data
        kept[str(device)] = Data(x=data.x, edge_index=data.inference_edge_index, num_nodes=data.num_nodes).to(device)
    return kept[str(device)]


def _held_out(upper: Tensor, shares: tuple[float, ...], generator: torch.Generator) -> list[Tensor]:
    """``upper`` (one direction per edge) shuffled and cut: one piece per share (``int(share *
    n)`` edges each), then the rest, first."""
    upper = upper[:, torch.randperm(upper.size(1), generator=generator)]
    sizes = [int(share * upper.size(1)) for share in shares]
    rest = upper.size(1) - sum(sizes)
    return list(upper.split([rest, *sizes], dim=1))


def transductive_split(name: str, x: Tensor, edge_index: Tensor, seed: int,
                       shares: TransductiveShares = TRANSDUCTIVE, info: dict | None = None) -> Task:
    """LLP's transductive setting (its ``do_edge_split``): the graph's undirected edges shuffled
    and cut into train / valid / test by ``shares``; each held-out edge paired with a distinct
    sampled non-edge of the whole graph; the training graph and the training positives are the
    training edges in both directions (as the code trains)."""
    num_nodes = x.size(0)
    edges = undirected_simple(edge_index, num_nodes)
    upper = edges[:, edges[0] < edges[1]]
    gen = torch.Generator().manual_seed(seed)
    train, valid, test = _held_out(upper, (shares.valid, shares.test), gen)
    negatives = sample_non_edges(edges, num_nodes, valid.size(1) + test.size(1), gen)
    valid_neg, test_neg = negatives.split([valid.size(1), test.size(1)], dim=1)
    message = both_directions(train)
    return link_task(name, x, message, message, valid, valid_neg, test, test_neg,
                     info={"split_seed": seed, "valid_share": shares.valid, "test_share": shares.test, **(info or {})})


def production_split(name: str, x: Tensor, edge_index: Tensor, seed: int,
                     shares: ProductionShares = PRODUCTION, info: dict | None = None) -> Task:
    """LLP's production setting (``do_production_edge_split``; see the module docstring). The
    test negatives: ``round(test * undirected edges)`` distinct non-edges of the whole graph,
    shared by every test split, as LLP's code draws them."""
    num_nodes = x.size(0)
    edges = undirected_simple(edge_index, num_nodes)
    upper = edges[:, edges[0] < edges[1]]
    gen = torch.Generator().manual_seed(seed)
    test_neg = sample_non_edges(edges, num_nodes, round(shares.test * upper.size(1)), gen)
    new = torch.zeros(num_nodes, dtype=torch.bool)
    new[torch.randperm(num_nodes, generator=gen)[: int(round(shares.new_nodes * num_nodes))]] = True
    old_ends = (~new[upper]).sum(0)
    old_old, old_new, new_new = upper[:, old_ends == 2], upper[:, old_ends == 1], upper[:, old_ends == 0]
    old_train, old_extra, old_test = _held_out(old_old, (shares.extra, shares.test), gen)
    old_new_seen, old_new_test = _held_out(old_new, (shares.test,), gen)
    new_new_seen, new_new_test = _held_out(new_new, (shares.test,), gen)
    fit, valid = _held_out(old_train, (shares.valid,), gen)
    seen = ~new
    valid_neg = sample_non_edges(both_directions(old_train), num_nodes, valid.size(1), gen,
                                 nodes=seen.nonzero().view(-1))
    message = both_directions(fit)
    inference = both_directions(torch.cat([old_train, old_extra, old_new_seen, new_new_seen], dim=1))
    test = torch.cat([old_test, old_new_test, new_new_test], dim=1)
    extra = {"test-old-old": old_test, "test-old-new": old_new_test, "test-new-new": new_new_test}
    return link_task(name, x, message, message, valid, valid_neg, test, test_neg, extra_tests=extra,
                     inference_edges=inference, seen=seen,
                     info={"split_seed": seed, "new_nodes": int(new.sum()), **vars(shares), **(info or {})})


def split_graph(name: str, x: Tensor, edge_index: Tensor, setting: str, seed: int, info: dict | None = None) -> Task:
    """``x`` and ``edge_index`` as a link task of ``setting`` (one of ``SETTINGS``)."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown link setting {setting!r}; valid settings: {', '.join(SETTINGS)}")
    make = transductive_split if setting == "transductive" else production_split
    return make(name, x, edge_index, seed, info=info)


PLANETOID_LINKS = {"cora-link": "cora", "citeseer-link": "citeseer"}


def _planetoid_files(name: str) -> str:
    base = PLANETOID_LINKS[name]
    return f"planetoid/{NAMES[base]}/raw/ind.{base}.{{{','.join(RAW_PARTS)}}}"


@register(*PLANETOID_LINKS, kind="link", splits=SETTINGS, files=_planetoid_files)
def load_planetoid_links(name: str, root: Path, split: str = "transductive", seed: int = 0,
                         download: bool = False) -> Task:
    """Cora's or CiteSeer's citation edges as a link task (``split``: the setting), on the whole
    Planetoid graph with its raw bag-of-words features, as LLP's code loads it (PyG's
    ``Planetoid``, no transform); self-loops dropped, edges undirected."""
    graph = load_planetoid(PLANETOID_LINKS[name], root, split="public", download=download).data
    return split_graph(name, graph.x, graph.edge_index, split, seed, info={"graph": "Planetoid, whole graph"})


@register("synthetic-link", kind="link", splits=SETTINGS)
def load_synthetic_links(name: str = "synthetic-link", root: Path | None = None, split: str = "transductive",
                         seed: int = 0, download: bool = False) -> Task:
    """The embedded CSBM graph (``synthetic``: 2,000 nodes, 10,000 edges, homophilous, features
    that carry the class) as a link task; no file. The graph is drawn with seed 0 and the split
    with ``seed``."""
    graph = csbm(**NODE_PRESETS["synthetic"], seed=0).data
    return split_graph(name, graph.x, graph.edge_index, split, seed, info={"graph": "csbm synthetic, seed 0"})
