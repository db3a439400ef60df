"""``TrainConfig``: how a teacher or a student is optimised."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    """Optimisation settings. ``patience``: epochs without a better validation score before
    stopping. ``batch_size``: graphs or images per mini-batch (graph and image tasks), or seed
    nodes per mini-batch when ``fanouts`` is set. ``fanouts``: node tasks train on sampled
    neighbourhoods (``gkd.graph.sampling``), ``fanouts[l]`` in-neighbours per node at hop l (-1:
    all); None: full-batch; ``sampler``: whose sampler draws them (``gkd.train.sampler``: "auto"
    is DGL's when DGL is installed, else gkd's; "gkd"; "dgl"); a model whose rows are
    independent (an MLP) gets batches of nodes alone; ``trim``: each layer of a sampled batch
    computes only the nodes the seeds still depend on (``LayerStack``), when the method reads
    logits alone (``Distiller.logits_only``) and the model's layers allow it. Evaluation is
    always on the full graph; ``layerwise``: by a layer-wise pass (``gkd.models.layerwise``: one
    layer's activations at a time, for graphs too large for a full-graph forward) when True, by
    one forward when False, and when None (the default) layer-wise exactly when ``fanouts`` is
    set and the model allows it. ``lr_schedule``: None (a constant learning rate) or
    ``"cosine"`` (from ``lr`` down to 0 over ``epochs``, stepped per epoch). ``precision``:
    ``"fp32"``, or ``"bf16"`` (opt-in): each training step's forward pass and loss run under
    ``torch.autocast`` with bfloat16, so the dense products (linear maps) run in bf16 while
    sparse products, reductions, the losses' softmaxes and the optimiser stay in fp32;
    evaluation and the returned logits are fp32. Faster only where the hardware has bf16
    arithmetic (recent GPUs; CPUs with AVX-512 BF16 or AMX): elsewhere it is slower.
    ``selection``: which epoch's weights training returns: ``"best"`` (the default: the epoch of
    the best validation score, later epochs winning ties, as GLNN's, NOSMOG's and CPF's code
    keeps); early stopping by ``patience`` applies to both. ``grad_clip``: each model's
    gradient norm clipped to it before every step (None: no clipping; LLP's code clips at 1.0).
    For link tasks ``batch_size`` counts training edges per batch (each with a sampled non-edge),
    and ``fanouts`` samples the neighbourhoods of every node a step reads (its pairs' end nodes,
    anchors and a method's context)."""

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
    precision: str = "fp32"
    selection: str = "best"
    grad_clip: float | None = None


PRECISIONS = ("fp32", "bf16")
SELECTIONS = ("best", "last")
