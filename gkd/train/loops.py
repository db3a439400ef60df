"""One training epoch per task kind: full-batch or sampled node tasks, mini-batches of graphs,
mini-batches of (augmented) images, batches of edges and sampled non-edges (link tasks). Each
epoch hands every batch to ``step``: the model's forward, the method's loss, one optimiser step."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from ..data.task import Task
from ..distill.base import Batch, Distiller
from ..graph.pairs import edge_keys, sample_non_edges
from ..graph.sampling import NeighbourSampler
from ..models.base import eval_mode, row_independent, supports_row_blocks
from ..models.link import LinkModel
from ..outputs import Outputs
from . import distributed
from .config import TrainConfig
from .inference import link_embeddings
from .sampler import make_sampler
from .teacher_outputs import GraphTeacherOutputs, each


@dataclass
class EpochState:
    """What the epochs of one ``fit`` share: the task, the models, the method, the optimiser and
    what is built once and reused (the teacher's outputs, the graph loader, the sampler)."""

    task: Task
    model: nn.Module
    distiller: Distiller
    optimizer: torch.optim.Optimizer
    device: torch.device
    teacher: nn.Module | list[nn.Module] | None  # a list: several teachers (an ensemble method)
    teacher_logits: Tensor | list[Tensor] | None
    config: TrainConfig
    seed: int
    teacher_outputs: Outputs | list[Outputs] | None = None
    loader: DataLoader | None = None
    graph_teacher: GraphTeacherOutputs | bool | None = None  # False: too large, run the teacher per batch
    sampler: NeighbourSampler | None = None
    train_mask: Tensor | None = None
    forward_model: nn.Module | None = None  # the model, or the model in DistributedDataParallel
    cohort: list[nn.Module] | None = None  # a mutual method's models (the first is ``model``)
    cohort_optimizers: list[torch.optim.Optimizer] | None = None
    link_keys: Tensor | None = None  # a link task's training edges as pair keys (negatives avoid them)
    generator: torch.Generator | None = None  # draws a link task's negatives and anchors


def run_epoch(s: EpochState, epoch: int) -> dict[str, float]:
    """One epoch of ``s.task``'s kind; returns each loss term's mean over the epoch's rows."""
    epochs = {"node": _node_epoch, "graph": _graph_epoch, "image": _image_epoch, "link": _link_epoch}
    return epochs[s.task.kind](s, epoch)


def _node_epoch(s: EpochState, epoch: int) -> dict[str, float]:
    if s.config.fanouts:
        return _sampled_node_epoch(s, epoch)
    data = s.task.data_on(s.device)
    n = data.num_nodes
    if s.teacher_outputs is None and s.teacher_logits is not None:
        s.teacher_outputs = _teacher_outputs(s, data, s.teacher_logits)
    labelled = torch.zeros(n, dtype=torch.bool, device=s.device)
    labelled[s.task.split["train"].to(s.device)] = True
    visible = torch.ones(n, dtype=torch.bool, device=s.device)
    batch = Batch(data, data.y, distributed.share_mask(labelled), distributed.share_mask(visible),
                  s.task.objective, epoch, s.config.epochs)
    return step(s, data, s.teacher_outputs, batch)


def _sampled_node_epoch(s: EpochState, epoch: int) -> dict[str, float]:
    """One pass over the seed nodes in mini-batches, each with its sampled neighbourhood. Seeds:
    the training nodes when learning from labels alone, every node when a teacher's outputs are
    there to learn from (its outputs over the full graph are computed once and gathered per
    batch), or a cohort's, or the model's own (self-distillation). The distiller sees the
    subgraph's rows: the seeds are ``visible`` (their outputs have their full sampled
    neighbourhood), labelled seeds are ``labelled``."""
    n = s.task.num_items
    if s.sampler is None:
        train = s.task.split["train"]
        s.train_mask = torch.zeros(n, dtype=torch.bool)
        s.train_mask[train] = True
        # several processes: each rank samples around its equal share of the seeds (same batch count)
        # (every node when something other than the labels teaches: a teacher, the cohort, the model itself)
        unlabelled = s.teacher_logits is not None or s.distiller.taught_by in ("self", "mutual")
        seeds = distributed.share(torch.arange(n) if unlabelled else train)
        # a model that reads no neighbours (an MLP) trains on batches of the seed nodes alone
        fanouts = [] if all(row_independent(m) for m in _models(s)) else list(s.config.fanouts)
        s.sampler = make_sampler(s.task.data, fanouts, s.config.batch_size, nodes=seeds, seed=s.seed,
                                 backend=s.config.sampler)
    if s.teacher_outputs is None and s.teacher_logits is not None:
        s.teacher_outputs = _teacher_outputs(s, s.task.data_on(s.device), s.teacher_logits)
    # trimmed, the model returns the seeds' rows alone: the distiller sees those rows only
    trim = s.config.trim and s.distiller.logits_only and all(supports_row_blocks(m) for m in _models(s))
    totals: dict[str, float] = {}
    for sub in s.sampler:
        rows = sub.batch_size if trim else sub.num_nodes
        sub.trim_to_layer = trim
        seed_rows = torch.zeros(rows, dtype=torch.bool)
        seed_rows[: sub.batch_size] = True
        labelled = (seed_rows & s.train_mask[sub.n_id[:rows]]).to(s.device)
        sub = sub.to(s.device)
        teacher = None if s.teacher_outputs is None else each(s.teacher_outputs, lambda t: t.rows(sub.n_id[:rows]))
        batch = Batch(sub, sub.y[:rows], labelled, seed_rows.to(s.device), s.task.objective, epoch, s.config.epochs)
        terms = step(s, sub, teacher, batch)
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value * sub.batch_size
    count = len(s.sampler.nodes)
    return {key: value / max(count, 1) for key, value in totals.items()}


def _graph_epoch(s: EpochState, epoch: int) -> dict[str, float]:
    if s.loader is None:
        graphs = s.task.indexed_graphs()
        train = [graphs[i] for i in distributed.share(s.task.split["train"]).tolist()]
        gen = torch.Generator().manual_seed(s.seed)
        s.loader = DataLoader(train, batch_size=s.config.batch_size, shuffle=True, generator=gen)
    totals: dict[str, float] = {}
    count = 0
    for data in s.loader:
        data = data.to(s.device)
        rows = data.num_graphs
        ones = torch.ones(rows, dtype=torch.bool, device=s.device)
        y = data.y.view(rows, -1) if s.task.objective == "binary" else data.y.view(-1)
        teacher = None
        if s.teacher_logits is not None:
            teacher = _graph_teacher_outputs(s, data)
        terms = step(s, data, teacher, Batch(data, y, ones, ones, s.task.objective, epoch, s.config.epochs))
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value * rows
        count += rows
    return {key: value / max(count, 1) for key, value in totals.items()}


def _image_epoch(s: EpochState, epoch: int) -> dict[str, float]:
    """One pass over the training images in shuffled mini-batches, augmented when the set asks
    for it. The teacher sees the same augmented batch (so its soft labels describe what the
    student sees); only a teacher given as logits alone falls back to its clean-image logits."""
    images = s.task.data
    gen = torch.Generator().manual_seed(s.seed * 100_003 + epoch)
    order = distributed.share(s.task.split["train"][torch.randperm(len(s.task.split["train"]), generator=gen)])
    totals: dict[str, float] = {}
    for index in order.split(s.config.batch_size):
        x = images.batch(index, s.device, train=True, generator=gen)
        rows = x.size(0)
        y = images.labels[index].to(s.device)
        teacher = None
        if s.teacher_logits is not None:
            if s.teacher is not None:
                with torch.no_grad():
                    teacher = each(s.teacher, lambda t: t(x))
                if not s.distiller.needs_teacher_hidden:
                    teacher = each(teacher, lambda t: Outputs(t.logits))
            else:
                teacher = each(s.teacher_logits, lambda t: Outputs(t[index.to(s.device)]))
        ones = torch.ones(rows, dtype=torch.bool, device=s.device)
        terms = step(s, x, teacher, Batch(x, y, ones, ones, s.task.objective, epoch, s.config.epochs))
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value * rows
    return {key: value / max(len(order), 1) for key, value in totals.items()}


def _link_epoch(s: EpochState, epoch: int) -> dict[str, float]:
    """One pass over a link task's training edges in shuffled batches of ``batch_size`` edges
    (LLP trains so: one batch of 64K edges covers Cora), each batch with as many sampled
    non-edges (uniform pairs of seen nodes that are no training edge and no self-loop, drawn
    afresh at every step). The seen nodes, shuffled, are cut into one share of ``anchors`` per
    batch, the nodes a relational method (``llp``) centres its ``link_context`` on. A step's
    graph holds its pairs (``data.pairs``, labels ``y`` 1 / 0), anchors and context: the whole
    training graph or, with ``fanouts`` (sampled training), the sampled neighbourhoods of every
    node the step reads (``_link_step_graph``). A frozen teacher embeds the training graph once
    (eval mode; layer by layer when sampled) and scores each batch's pairs: its outputs hold
    those scores and the step graph's rows of its node embeddings (``Outputs.embeddings``)."""
    data = s.task.data_on(s.device)
    n = int(data.num_nodes)
    nodes = s.task.seen_nodes()
    if s.generator is None:
        s.generator = torch.Generator().manual_seed(s.seed)
        s.link_keys = edge_keys(s.task.data.edge_index, n)
        if s.config.fanouts:  # an encoder that reads features alone (an MLP) needs the step's nodes alone
            fanouts = [] if all(_reads_features_alone(m) for m in _models(s)) else list(s.config.fanouts)
            s.sampler = make_sampler(s.task.data, fanouts, s.config.batch_size, seed=s.seed, backend=s.config.sampler)
    if s.teacher_logits is not None and s.teacher_outputs is None:
        if s.teacher is None or isinstance(s.teacher, list):
            raise ValueError(f"method {s.distiller.name!r} on link task {s.task.name!r} needs the teacher "
                             f"model (a link teacher scores the sampled pairs): give one teacher with its model")
        with torch.no_grad(), eval_mode(s.teacher):  # the frozen teacher's node embeddings, computed once
            s.teacher_outputs = link_embeddings(s.teacher, data, s.config)
    train = s.task.split["train"]
    order = train[torch.randperm(train.numel(), generator=s.generator)]
    chunks = order.split(s.config.batch_size)
    anchors = nodes[torch.randperm(nodes.numel(), generator=s.generator)].tensor_split(len(chunks))
    totals: dict[str, float] = {}
    for chunk, anchor in zip(chunks, anchors):
        positive = s.task.data.pairs[:, chunk]
        negative = sample_non_edges(s.task.data.edge_index, n, chunk.numel(), s.generator, nodes=nodes,
                                    distinct=False, keys=s.link_keys)
        pairs = torch.cat([positive, negative], dim=1)
        step_data, rows = _link_step_graph(s, data, pairs, anchor, s.distiller.link_context(anchor))
        y = torch.cat([torch.ones(chunk.numel()), torch.zeros(chunk.numel())]).view(-1, 1).to(s.device)
        teacher = None
        if s.teacher_outputs is not None:
            embedded = s.teacher_outputs if rows is None else s.teacher_outputs.rows(rows)
            h, p = embedded.logits, step_data.pairs
            with torch.no_grad(), eval_mode(s.teacher):
                teacher = Outputs(logits=s.teacher.score(h[p[0]], h[p[1]]), hidden=embedded.hidden, embeddings=h)
        ones = torch.ones(y.size(0), dtype=torch.bool, device=s.device)
        terms = step(s, step_data, teacher, Batch(step_data, y, ones, ones, "binary", epoch, s.config.epochs))
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value * chunk.numel()
    return {key: value / max(train.numel(), 1) for key, value in totals.items()}


def _link_step_graph(s: EpochState, data: Data, pairs: Tensor, anchors: Tensor,
                     context: Tensor | None) -> tuple[Data, Tensor | None]:
    """The graph a link step runs on, with ``pairs``, ``anchors`` and ``context`` (full-graph
    ids) renumbered in it, and the full-graph ids of its rows (None: the whole training graph,
    its own numbering). Sampled training: the step's distinct nodes are the seeds, in id order,
    of a subgraph sampled as node tasks sample theirs (``fanouts[l]`` in-neighbours at hop l)."""
    read = [pairs.reshape(-1), anchors] + ([] if context is None else [context.reshape(-1)])
    if s.sampler is None:  # the whole training graph, in its own numbering
        step_data, local, rows = copy.copy(data), torch.cat(read).to(s.device), None
    else:
        seeds, local = torch.cat(read).unique(return_inverse=True)
        step_data = s.sampler.subgraph(seeds, s.generator).to(s.device)
        local, rows = local.to(s.device), step_data.n_id
    step_data.pairs = local[: pairs.numel()].view(2, -1)
    step_data.anchors = local[pairs.numel(): pairs.numel() + anchors.numel()]
    if context is not None:
        step_data.context = local[pairs.numel() + anchors.numel():].view(context.shape)
    return step_data, rows


def _reads_features_alone(model: nn.Module) -> bool:
    """Whether a link model's encoder reads features alone (an MLP): its sampled steps need no neighbours."""
    return isinstance(model, LinkModel) and row_independent(model.encoder)


def _teacher_outputs(s: EpochState, data: Data, logits: Tensor | list[Tensor]) -> Outputs | list[Outputs]:
    """The teacher's outputs for this batch: cached logits, plus hidden layers from one frozen
    forward pass when the method needs them."""
    if isinstance(logits, list):  # several teachers: their logits alone (``fit`` refuses hidden layers)
        return [Outputs(logits=t) for t in logits]
    if not s.distiller.needs_teacher_hidden:
        return Outputs(logits=logits)
    if s.teacher is None:
        raise ValueError(f"method {s.distiller.name!r} needs the teacher model for its hidden layers")
    with torch.no_grad():
        out = s.teacher(data)
    return Outputs(logits=logits, hidden=out.hidden, pooled=out.pooled)


def _graph_teacher_outputs(s: EpochState, data: Data) -> Outputs | list[Outputs]:
    """A graph batch's teacher outputs: cached logits and, for methods that need hidden layers,
    representations computed once for every graph when they fit in memory (else per batch)."""
    logits = each(s.teacher_logits, lambda t: t[data.graph_id])
    if not s.distiller.needs_teacher_hidden or s.teacher is None:
        return _teacher_outputs(s, data, logits)
    if s.graph_teacher is None:
        graphs = s.task.indexed_graphs()
        fits = GraphTeacherOutputs.fits(s.teacher, graphs, s.device)
        s.graph_teacher = GraphTeacherOutputs(s.teacher, graphs, s.device) if fits else False
    if s.graph_teacher is False:
        return _teacher_outputs(s, data, logits)
    return s.graph_teacher.gather(data.graph_id, logits)


def step(s: EpochState, data: Data | Tensor, teacher: Outputs | list[Outputs] | None,
         batch: Batch) -> dict[str, float]:
    """One optimiser step on one batch; returns the method's loss terms. A cohort (a mutual
    method) runs every model on the batch; model ``k`` learns from the others' outputs, detached,
    and its terms come back as ``"k.term"``."""
    models = _models(s)
    for model in models:
        model.train()
    s.distiller.train()
    with torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=s.config.precision == "bf16"):
        if s.cohort is None:
            loss, terms = s.distiller.loss((s.forward_model or s.model)(data), teacher, batch)
        else:
            outs = [model(data) for model in models]
            loss, terms = 0.0, {}
            for k, out in enumerate(outs):
                peers = [other.detach() for j, other in enumerate(outs) if j != k]
                own, values = s.distiller.loss(out, peers, batch)
                loss = loss + own
                terms.update({f"{k}.{key}": value for key, value in values.items()})
    optimizers = s.cohort_optimizers if s.cohort is not None else [s.optimizer]
    for optimizer in optimizers:
        optimizer.zero_grad()
    loss.backward()
    distributed.average_gradients(list(s.distiller.parameters()))
    if s.config.grad_clip is not None:  # each model's gradient norm (LLP clips at 1.0)
        for model in models:
            nn.utils.clip_grad_norm_(model.parameters(), s.config.grad_clip)
    for optimizer in optimizers:
        optimizer.step()
    return terms


def _models(s: EpochState) -> list[nn.Module]:
    """The models a step trains: the cohort, or the one model."""
    return s.cohort if s.cohort is not None else [s.model]
