"""One training loop for teachers and students, full batch (node tasks) or mini-batch (graph and
image tasks), with best-validation model selection, seeding, and an on-disk teacher cache."""
from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from . import distributed
from . import models as model_zoo
from .data.task import Task
from .distill import Distiller
from .distill import get as get_distiller
from .distill.base import Batch
from .io import atomic_torch_save
from .layerwise import layerwise_forward, supports_layerwise
from .metrics import score, score_rows
from .outputs import Outputs
from .paths import cache_dir
from .sampling import NeighbourSampler, make_sampler
from .teacher_outputs import GraphTeacherOutputs

CACHE_VERSION = 1


@dataclass
class ModelSpec:
    """A built-in model and its size, e.g. ``ModelSpec("sage", hidden=128, num_layers=2)``."""

    name: str
    hidden: int = 128
    num_layers: int = 2
    dropout: float = 0.0
    norm: str | None = None

    def build(self, task: Task) -> nn.Module:
        return model_zoo.build(self.name, task, self.hidden, self.num_layers, self.dropout, self.norm)

    def label(self) -> str:
        return f"{self.name}{self.num_layers}x{self.hidden}"


@dataclass
class TrainConfig:
    """Optimisation settings. ``patience``: epochs without a better validation score before
    stopping. ``batch_size``: graphs or images per mini-batch (graph and image tasks), or seed
    nodes per mini-batch when ``fanouts`` is set. ``fanouts``: node tasks train on sampled
    neighbourhoods (``gkd.sampling``), ``fanouts[l]`` in-neighbours per node at hop l (-1: all);
    None: full-batch; ``sampler``: whose sampler draws them (``gkd.sampling.make_sampler``:
    "auto" is DGL's when DGL is installed, else gkd's; "gkd"; "dgl"); a model that reads no
    neighbours (an MLP) gets batches of nodes alone; ``trim``: each layer of a sampled batch
    computes only the nodes the seeds still depend on (``LayerStack``), when the method reads
    logits alone (``Distiller.logits_only``) and the model's layers allow it. Evaluation is
    always on the full graph; ``layerwise``: by a layer-wise pass (``gkd.layerwise``: one
    layer's activations at a time, for graphs too large for a full-graph forward) when True, by
    one forward when False, and when None (the default) layer-wise exactly when ``fanouts`` is
    set and the model allows it. ``lr_schedule``: None (a constant learning rate) or
    ``"cosine"`` (from ``lr`` down to 0 over ``epochs``, stepped per epoch)."""

    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 5e-4
    patience: int = 50
    batch_size: int = 64
    device: str = "cpu"
    progress: bool = False
    fanouts: tuple[int, ...] | None = None
    lr_schedule: str | None = None
    layerwise: bool | None = None
    sampler: str = "auto"
    trim: bool = True


# the entries of each ``FitResult.history`` record that are not loss terms
HISTORY_FIELDS = ("epoch", "valid", "epoch_seconds", "valid_seconds")


def loss_terms(record: dict) -> dict[str, float]:
    """The method's weighted loss terms of one epoch's history record."""
    return {k: v for k, v in record.items() if k not in HISTORY_FIELDS}


@dataclass
class FitResult:
    """A trained model at its best-validation epoch, with the logits it gives every item."""

    model: nn.Module
    logits: Tensor
    scores: dict[str, float]
    best_epoch: int
    train_seconds: float
    history: list[dict] = field(default_factory=list)
    from_cache: bool = False
    # the method's own trained parts (projectors), at the same best epoch as ``model``
    distiller: Distiller | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def fit(model: nn.Module, task: Task, config: TrainConfig, *, distiller: Distiller | None = None,
        teacher: nn.Module | None = None, teacher_logits: Tensor | None = None, seed: int = 0,
        desc: str = "train") -> FitResult:
    """Train ``model`` on ``task`` under ``distiller`` (default: the student alone) and return it
    at its best-validation epoch (the distiller's own parameters, if any, are restored to that
    epoch too). ``seed`` fixes dropout and batch order; the initial weights are fixed by the
    random state when the model was built (``seed_everything`` before building, or pass a
    ``ModelSpec`` to ``train_student``). A teacher's knowledge comes as ``teacher_logits`` over
    all items (computed once, e.g. from the cache) and, for methods that need hidden layers, the
    frozen ``teacher`` module."""
    seed_everything(seed)
    distiller = distiller if distiller is not None else get_distiller("none")
    if distiller.needs_teacher and teacher_logits is None:
        raise ValueError(f"method {distiller.name!r} needs teacher_logits (train a teacher first)")
    device = torch.device(config.device)
    model.to(device)
    distiller.to(device)
    teacher_logits = None if teacher_logits is None else teacher_logits.to(device)
    if teacher is not None:
        teacher.to(device).eval()
    distiller.prepare(task=task, student=model, teacher=teacher, teacher_logits=teacher_logits)
    params = list(model.parameters()) + list(distiller.parameters())
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.lr_schedule not in (None, "cosine"):
        raise ValueError(f"lr_schedule: None or 'cosine', got {config.lr_schedule!r}")
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs) if config.lr_schedule else None
    epoch_fn = {"node": _node_epoch, "graph": _graph_epoch, "image": _image_epoch}[task.kind]
    state = _EpochState(task, model, distiller, optimizer, device, teacher, teacher_logits, config, seed,
                        forward_model=distributed.wrap(model))

    best_valid, best_epoch, best_state = -float("inf"), -1, None
    valid_index = task.split["valid"]
    history: list[dict] = []
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc=desc, disable=not config.progress, leave=False)
    for epoch in bar:
        epoch_start = time.perf_counter()
        terms = epoch_fn(state, epoch)
        if scheduler is not None:
            scheduler.step()
        valid_start = time.perf_counter()
        valid = score_rows(task, predict(model, task, config, valid_index), valid_index)
        history.append({"epoch": epoch, "valid": valid, "epoch_seconds": valid_start - epoch_start,
                        "valid_seconds": time.perf_counter() - valid_start, **terms})
        improved = not math.isnan(valid) and valid >= best_valid  # ties go to the later epoch
        if improved or best_state is None:
            best_valid = valid if improved else best_valid
            best_epoch, best_state = epoch, copy.deepcopy((model.state_dict(), distiller.state_dict()))
        bar.set_postfix(valid=f"{valid:.4f}", best=f"{best_valid:.4f}")
        if epoch - best_epoch >= config.patience:
            break
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state[0])
    distiller.load_state_dict(best_state[1])
    logits = predict(model, task, config)
    scores = {name: score(task, logits, idx) for name, idx in task.split.items()}
    return FitResult(model, logits, scores, best_epoch, seconds, history, distiller=distiller)


@dataclass
class _EpochState:
    task: Task
    model: nn.Module
    distiller: Distiller
    optimizer: torch.optim.Optimizer
    device: torch.device
    teacher: nn.Module | None
    teacher_logits: Tensor | None
    config: TrainConfig
    seed: int
    teacher_outputs: Outputs | None = None
    loader: DataLoader | None = None
    graph_teacher: GraphTeacherOutputs | bool | None = None  # False: too large, run the teacher per batch
    sampler: NeighbourSampler | None = None
    train_mask: Tensor | None = None
    forward_model: nn.Module | None = None  # the model, or the model in DistributedDataParallel


def _node_epoch(s: _EpochState, epoch: int) -> dict[str, float]:
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
    return _step(s, data, s.teacher_outputs, batch)


def _sampled_node_epoch(s: _EpochState, epoch: int) -> dict[str, float]:
    """One pass over the seed nodes in mini-batches, each with its sampled neighbourhood. Seeds:
    the training nodes when learning from labels alone, every node when a teacher's outputs are
    there to learn from (its outputs over the full graph are computed once and gathered per
    batch). The distiller sees the subgraph's rows: the seeds are ``visible`` (their outputs have
    their full sampled neighbourhood), labelled seeds are ``labelled``."""
    n = s.task.num_items
    if s.sampler is None:
        train = s.task.split["train"]
        s.train_mask = torch.zeros(n, dtype=torch.bool)
        s.train_mask[train] = True
        # several processes: each rank samples around its equal share of the seeds (same batch count)
        seeds = distributed.share(train if s.teacher_logits is None else torch.arange(n))
        # a model that reads no neighbours (an MLP) trains on batches of the seed nodes alone
        fanouts = list(s.config.fanouts) if getattr(s.model, "uses_graph", True) else []
        s.sampler = make_sampler(s.task.data, fanouts, s.config.batch_size, nodes=seeds, seed=s.seed,
                                 backend=s.config.sampler)
    if s.teacher_outputs is None and s.teacher_logits is not None:
        s.teacher_outputs = _teacher_outputs(s, s.task.data_on(s.device), s.teacher_logits)
    # trimmed, the model returns the seeds' rows alone: the distiller sees those rows only
    trim = s.config.trim and s.distiller.logits_only and supports_layerwise(s.model)
    totals: dict[str, float] = {}
    for sub in s.sampler:
        rows = sub.batch_size if trim else sub.num_nodes
        sub.trim_to_layer = trim
        seed_rows = torch.zeros(rows, dtype=torch.bool)
        seed_rows[: sub.batch_size] = True
        labelled = (seed_rows & s.train_mask[sub.n_id[:rows]]).to(s.device)
        sub = sub.to(s.device)
        teacher = None if s.teacher_outputs is None else s.teacher_outputs.rows(sub.n_id[:rows])
        batch = Batch(sub, sub.y[:rows], labelled, seed_rows.to(s.device), s.task.objective, epoch, s.config.epochs)
        terms = _step(s, sub, teacher, batch)
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value * sub.batch_size
    count = len(s.sampler.nodes)
    return {key: value / max(count, 1) for key, value in totals.items()}


def _graph_epoch(s: _EpochState, epoch: int) -> dict[str, float]:
    if s.loader is None:
        graphs = _indexed_graphs(s.task)
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
        terms = _step(s, data, teacher, Batch(data, y, ones, ones, s.task.objective, epoch, s.config.epochs))
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value * rows
        count += rows
    return {key: value / max(count, 1) for key, value in totals.items()}


def _image_epoch(s: _EpochState, epoch: int) -> dict[str, float]:
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
                    teacher = s.teacher(x)
                if not s.distiller.needs_teacher_hidden:
                    teacher = Outputs(teacher.logits)
            else:
                teacher = Outputs(s.teacher_logits[index.to(s.device)])
        ones = torch.ones(rows, dtype=torch.bool, device=s.device)
        terms = _step(s, x, teacher, Batch(x, y, ones, ones, s.task.objective, epoch, s.config.epochs))
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value * rows
    return {key: value / max(len(order), 1) for key, value in totals.items()}


def _teacher_outputs(s: _EpochState, data: Data, logits: Tensor) -> Outputs:
    """The teacher's outputs for this batch: cached logits, plus hidden layers from one frozen
    forward pass when the method needs them."""
    if not s.distiller.needs_teacher_hidden:
        return Outputs(logits=logits)
    if s.teacher is None:
        raise ValueError(f"method {s.distiller.name!r} needs the teacher model for its hidden layers")
    with torch.no_grad():
        out = s.teacher(data)
    return Outputs(logits=logits, hidden=out.hidden, pooled=out.pooled)


def _graph_teacher_outputs(s: _EpochState, data: Data) -> Outputs:
    """A graph batch's teacher outputs: cached logits and, for methods that need hidden layers,
    representations computed once for every graph when they fit in memory (else per batch)."""
    logits = s.teacher_logits[data.graph_id]
    if not s.distiller.needs_teacher_hidden or s.teacher is None:
        return _teacher_outputs(s, data, logits)
    if s.graph_teacher is None:
        graphs = _indexed_graphs(s.task)
        fits = GraphTeacherOutputs.fits(s.teacher, graphs, s.device)
        s.graph_teacher = GraphTeacherOutputs(s.teacher, graphs, s.device) if fits else False
    if s.graph_teacher is False:
        return _teacher_outputs(s, data, logits)
    return s.graph_teacher.gather(data.graph_id, logits)


def _step(s: _EpochState, data: Data, teacher: Outputs | None, batch: Batch) -> dict[str, float]:
    s.model.train()
    s.distiller.train()
    out = (s.forward_model or s.model)(data)
    loss, terms = s.distiller.loss(out, teacher, batch)
    s.optimizer.zero_grad()
    loss.backward()
    distributed.average_gradients(list(s.distiller.parameters()))
    s.optimizer.step()
    return terms


def _indexed_graphs(task: Task) -> list[Data]:
    """Shallow copies of the task's graphs carrying their index (``graph_id``), built once.
    ``edge_attr`` travels too when a graph has it (models such as ``gine`` read it)."""
    cached = task.__dict__.get("_indexed_graphs")
    if cached is None:
        cached = []
        for i, g in enumerate(task.data):
            copy_ = Data(x=g.x, edge_index=g.edge_index, y=g.y, num_nodes=g.num_nodes)
            edge_attr = getattr(g, "edge_attr", None)
            if edge_attr is not None:
                copy_.edge_attr = edge_attr
            copy_.graph_id = torch.tensor([i])
            cached.append(copy_)
        task.__dict__["_indexed_graphs"] = cached
    return cached


NODE_BLOCK_ROWS = 65_536  # rows per forward when a node model reads features alone


@torch.no_grad()
def predict(model: nn.Module, task: Task, config: TrainConfig | None = None, index: Tensor | None = None) -> Tensor:
    """Logits (on the CPU) for ``index`` (default: every node or graph of the task). A model
    that reads node features only (``uses_graph = False``) is run on the indexed nodes alone, in
    blocks of ``NODE_BLOCK_ROWS`` rows (its hidden activations for every node never coexist).
    The model is moved to ``config.device`` (a teacher loaded from the cache sits on the CPU)."""
    config = config or TrainConfig()
    device = torch.device(config.device)
    model.to(device).eval()
    if task.kind == "node":
        data = task.data
        if not getattr(model, "uses_graph", True):  # features alone: blocks of rows bound the memory
            rows = torch.arange(data.num_nodes) if index is None else index
            return torch.cat([model(Data(x=data.x[block].to(device), num_nodes=len(block))).logits.cpu()
                              for block in rows.split(NODE_BLOCK_ROWS)])
        if config.layerwise or (config.layerwise is None and config.fanouts and supports_layerwise(model)):
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
    graphs = _indexed_graphs(task)
    chosen = graphs if index is None else [graphs[i] for i in index.tolist()]
    loader = DataLoader(chosen, batch_size=max(config.batch_size, 256), shuffle=False)
    return torch.cat([model(batch.to(device)).logits.cpu() for batch in loader])


# --------------------------------------------------------------------------- teacher cache


def teacher_key(task: Task, spec: ModelSpec, config: TrainConfig, seed: int) -> str:
    """Hash of everything a teacher's outputs depend on: model, optimisation, data, node order,
    split and seed."""
    # fields that do not change what is learnt stay out (so do fields at a value that changes nothing:
    # the sampler of a full-batch run), which keeps earlier caches valid as TrainConfig grows
    unused = ("progress", "device", "layerwise") + (("sampler", "trim") if config.fanouts is None else ())
    payload = {
        "version": CACHE_VERSION, "spec": asdict(spec), "seed": seed, "task": task.fingerprint(),
        "config": {k: v for k, v in asdict(config).items() if k not in unused},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def train_teacher(task: Task, spec: ModelSpec, config: TrainConfig, seed: int = 0,
                  use_cache: bool = True) -> FitResult:
    """Train (or load from the cache) a teacher. The cache file holds the weights, the logits on
    every item and the scores; on load the stored validation score is recomputed from the stored
    logits against the current labels, so a cache that no longer fits the data is retrained."""
    path = cache_dir("teachers") / f"{task.name}-{spec.label()}-s{seed}-{teacher_key(task, spec, config, seed)}.pt"
    cached = _load_teacher(path, task, spec) if use_cache and path.exists() else None
    if distributed.rank0_decides(cached is not None):  # several processes: rank 0's cache decides
        return cached if cached is not None else _load_teacher(path, task, spec)
    seed_everything(seed)  # the initial weights depend on the seed too
    model = spec.build(task)
    result = fit(model, task, config, seed=seed, desc=f"teacher {spec.label()}")
    if use_cache and distributed.is_main():
        atomic_torch_save({
            "state_dict": result.model.state_dict(), "logits": result.logits, "scores": result.scores,
            "best_epoch": result.best_epoch, "train_seconds": result.train_seconds, "history": result.history,
        }, path)
    return result


def _load_teacher(path, task: Task, spec: ModelSpec) -> FitResult | None:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        model = spec.build(task)
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # an unreadable or stale file is retrained, never trusted
        warnings.warn(f"ignoring unreadable teacher cache {path}: {exc}")
        return None
    valid = score(task, blob["logits"], task.split["valid"])
    if abs(valid - blob["scores"]["valid"]) > 1e-6:
        warnings.warn(f"teacher cache {path} does not match the data (valid {valid:.4f} vs "
                      f"{blob['scores']['valid']:.4f}); retraining")
        return None
    return FitResult(model.eval(), blob["logits"], blob["scores"], blob["best_epoch"],
                     blob["train_seconds"], blob["history"], from_cache=True)


def train_student(task: Task, teacher: FitResult, student: nn.Module | ModelSpec, method: str | Distiller,
                  config: TrainConfig, seed: int = 0, **options) -> FitResult:
    """Train ``student`` (a module, or a ``ModelSpec`` built here after seeding, so that its
    initial weights follow ``seed``) from ``teacher`` (a ``FitResult``, e.g. from
    ``train_teacher``) with ``method`` (a registered name and its ``options``, or a ``Distiller``)."""
    distiller = get_distiller(method, **options) if isinstance(method, str) else method
    if isinstance(student, ModelSpec):
        seed_everything(seed)
        student = student.build(task)
    return fit(student, task, config, distiller=distiller, teacher=teacher.model,
               teacher_logits=teacher.logits, seed=seed, desc=f"student ({distiller.name})")
