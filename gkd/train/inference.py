"""``predict``: a trained model's logits for a task's items, in batches that bound the memory."""
from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.utils import k_hop_subgraph

from ..data.links import scoring_graph
from ..data.task import Task
from ..distill.base import probe_input
from ..errors import GkdError, MismatchError
from ..models.base import Model, eval_mode, row_independent, supports_row_blocks
from ..models.layerwise import layerwise_forward
from ..models.link import LinkModel
from ..models.wrapper import HookedModel
from ..outputs import Outputs
from .config import TrainConfig

NODE_BLOCK_ROWS = 65_536  # rows per forward when a node model reads features alone


@torch.no_grad()
def predict(model: nn.Module, task: Task, config: TrainConfig | None = None, index: Tensor | None = None) -> Tensor:
    """Logits (on the CPU) for ``index`` (default: every node or graph of the task). A model
    whose rows are independent (``Model.row_independent``: an MLP) is run on the indexed nodes alone, in
    blocks of ``NODE_BLOCK_ROWS`` rows (its hidden activations for every node never coexist).
    The model is moved to ``config.device`` (a teacher loaded from the cache sits on the CPU)."""
    config = config or TrainConfig()
    device = torch.device(config.device)
    model.to(device).eval()
    if task.kind == "link":
        return _predict_links(model, task, config, index)
    if task.kind == "node":
        data = task.data
        if row_independent(model):  # features alone: blocks of rows bound the memory
            rows = torch.arange(data.num_nodes) if index is None else index
            # ``n_id``: the rows' node ids, for a model that also reads who each row is (``nosmog``)
            return torch.cat([model(Data(x=data.x[block].to(device), n_id=block.to(device), num_nodes=len(block)))
                              .logits.cpu() for block in rows.split(NODE_BLOCK_ROWS)])
        if config.layerwise or (config.layerwise is None and config.fanouts and supports_row_blocks(model)):
            logits = layerwise_forward(model, task.data_on(device)).logits.cpu()
        else:
            logits = model(task.data_on(device)).logits.cpu()
        return logits if index is None else logits[index]
    if task.kind == "image":
        if index is not None:
            return torch.cat([model(task.data.batch(b, device)).logits.cpu()
                              for b in index.split(max(config.batch_size, 256))])
        # every image of the splits; images in none of them (left out by a CIFAR subset) get NaN
        used = torch.cat(list(task.split.values())).unique()
        logits = predict(model, task, config, used)
        out = logits.new_full((task.num_items, logits.size(1)), float("nan"))
        out[used] = logits
        return out
    graphs = task.indexed_graphs()
    chosen = graphs if index is None else [graphs[i] for i in index.tolist()]
    loader = DataLoader(chosen, batch_size=max(config.batch_size, 256), shuffle=False)
    return torch.cat([model(batch.to(device)).logits.cpu() for batch in loader])


def link_embeddings(model: LinkModel, graph: Data, config: TrainConfig) -> Outputs:
    """A link model's encoder outputs on ``graph`` (``logits``: the node embeddings): one
    forward, or layer by layer (``gkd.models.layerwise``) when ``config`` asks for it or trains
    on sampled neighbourhoods (``fanouts``) and the encoder allows it, as node tasks predict."""
    layerwise = config.layerwise or (config.layerwise is None and config.fanouts)
    if layerwise and supports_row_blocks(model.encoder):
        return layerwise_forward(model.encoder, graph)
    return model.embed(graph)


def _predict_links(model: nn.Module, task: Task, config: TrainConfig, index: Tensor | None) -> Tensor:
    """A link model's logits for the pairs ``index`` (default: every pair), each scored on the
    graph its split is scored on (``pair_graph``: the training graph, or the production setting's
    inference graph): the nodes embedded once per graph (``link_embeddings``), the pairs decoded
    in blocks."""
    device = torch.device(config.device)
    index = torch.arange(task.num_items) if index is None else index
    out = torch.empty(index.numel(), 1)
    for graph in (0, 1):
        chosen = (task.data.pair_graph[index] == graph).nonzero().view(-1)
        if chosen.numel() == 0:
            continue
        h = link_embeddings(model, scoring_graph(task, graph, config.device), config).logits
        pairs = task.data.pairs[:, index[chosen]].to(device)
        out[chosen] = torch.cat([model.score(h[block[0]], h[block[1]]).cpu()
                                 for block in pairs.split(NODE_BLOCK_ROWS, dim=1)])
    return out


@torch.no_grad()
def score_pairs(model: nn.Module, task: Task, pairs: Tensor, graph: int = 1,
                device: torch.device | str = "cpu") -> Tensor:
    """A link model's logits for node ``pairs`` (2 x B) as a deployed model computes them, from
    nothing precomputed: an encoder that reads features alone (an MLP) embeds the pairs' end
    nodes and nothing else; a GNN first gathers the end nodes' neighbourhoods, as deep as its
    layers, on the graph ``graph`` (``pair_graph``'s numbering: 1 the production setting's
    inference graph when the task has one, else the training graph), and embeds that subgraph.
    What the pair-scoring latency of the link benchmark times."""
    model.to(device).eval()
    data = scoring_graph(task, graph if task.optional("inference_edge_index") is not None else 0, "cpu")
    ends, inverse = pairs.reshape(-1).unique(return_inverse=True)
    if row_independent(model.encoder):
        h = model.embed(Data(x=data.x[ends].to(device), num_nodes=ends.numel())).logits
        rows = inverse.view(2, -1).to(device)
    else:
        depth = len(model.encoder.layers)  # a LinkModel's encoder is a LayerStack
        subset, edges, mapping, _ = k_hop_subgraph(ends, depth, data.edge_index, relabel_nodes=True,
                                                   num_nodes=int(data.num_nodes))
        h = model.embed(Data(x=data.x[subset].to(device), edge_index=edges.to(device), num_nodes=subset.numel())).logits
        rows = mapping[inverse].view(2, -1).to(device)
    return model.score(h[rows[0]], h[rows[1]]).cpu()


def check_model(module: nn.Module, task: Task, role: str = "model", device: torch.device | str = "cpu") -> None:
    """Raise ``MismatchError`` (one line, pointing to ``gkd.models.HookedModel``) unless ``module``
    is a gkd model for ``task``: ``forward(batch)`` returns ``Outputs`` with one row of logits per
    item of the batch. gkd's registered models are trusted; any other module (a ``HookedModel``
    included) is called once, without gradients and in eval mode, on a small batch of ``task``
    (the whole graph of a node task, two graphs, two images), so a plain PyG model, or a wrapped
    one that gives node rows on a graph task, fails here, before training, and not in the first
    epoch. ``role`` names the module in the message."""
    if isinstance(module, Model) and module.name or isinstance(module, LinkModel) and module.encoder.name:
        return
    name = type(module).__name__
    pool = ", pool='mean'" if task.kind == "graph" else ""
    if isinstance(module, HookedModel):
        hint = " and pool=" if pool else (" and drop pool= (a node task's rows are nodes)" if module.pool else "")
        name, fix = f"HookedModel({type(module.module).__name__})", f"check its inputs={hint}"
    else:
        fix = f"wrap it: gkd.models.HookedModel(module, hidden=[...]{pool})"
        params = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is inspect.Parameter.empty]
        if len(params) > 1:
            raise MismatchError(f"the {role} {name} is not a gkd model (its forward takes "
                                f"{', '.join(p.name for p in params)}, gkd calls model(batch) -> gkd.Outputs); {fix}")
    sample, rows = _sample(task, device)
    try:
        with torch.no_grad(), eval_mode(module):
            result = module(sample)
    except GkdError:
        raise
    except Exception as exc:  # whatever the module raises on a gkd batch: it is not a gkd model
        first = (str(exc).splitlines() or [""])[0]
        raise MismatchError(f"the {role} {name} fails on a gkd batch ({type(exc).__name__}: {first}); {fix}") from exc
    if not isinstance(result, Outputs):
        raise MismatchError(f"the {role} {name} returns {type(result).__name__}, not gkd.Outputs; {fix}")
    if result.logits.dim() != 2 or result.logits.size(0) != rows:
        raise MismatchError(f"the {role} {name} gives logits of shape {list(result.logits.shape)} for a batch of "
                            f"{rows} {task.kind}s, one row per {task.kind} wanted; {fix}")


def _sample(task: Task, device: torch.device | str) -> tuple[Data | Tensor, int]:
    """A small batch of ``task`` as the trainer hands it to a model, and its number of items."""
    if task.kind == "link":
        return probe_input(task, device), 2
    if task.kind == "node":
        return task.data_on(device), task.num_items
    if task.kind == "image":
        index = task.split["train"][:2]
        return task.data.batch(index, torch.device(device)), len(index)
    graphs = task.indexed_graphs()[:2]
    return next(iter(DataLoader(graphs, batch_size=len(graphs)))).to(device), len(graphs)
