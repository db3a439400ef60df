"""Per-dataset protocol: split, teacher, students and optimisation, shared by every method so
that methods are compared on equal terms. Sizes follow GLNN (Zhang et al., ICLR 2022) for the
citation sets and G-CRD / OGB practice for OGB, scaled to what a CPU trains in reasonable time."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from gkd import ModelSpec, TrainConfig
from gkd.errors import UnknownNameError


@dataclass
class Protocol:
    split: str
    teacher: ModelSpec
    students: list[ModelSpec]
    teacher_config: TrainConfig
    student_config: TrainConfig
    notes: str = ""
    student_overrides: dict[str, TrainConfig] = field(default_factory=dict)
    # other teachers and students a user can pick with ``--teacher NAME`` / ``--students NAMES``
    # (a paper's own teacher, the intermediate-layer papers' pairs)
    other_teachers: dict[str, tuple[ModelSpec, TrainConfig]] = field(default_factory=dict)
    other_students: dict[str, ModelSpec] = field(default_factory=dict)
    # a method's constructor options under this protocol (a paper's own settings), by method name
    method_options: dict[str, dict] = field(default_factory=dict)
    # the features row-normalised on load (``gkd.data.load(..., normalize_features=True)``)
    normalize_features: bool = False
    # the teachers a several-teacher method (``taught_by == "ensemble"``) learns from besides the
    # protocol's teacher: names of ``other_teachers``
    ensemble: tuple[str, ...] = ()

    def ensemble_teachers(self) -> list[tuple[ModelSpec, TrainConfig]]:
        """The teachers an ensemble method learns from: this protocol's teacher, then ``ensemble``'s."""
        return [(self.teacher, self.teacher_config), *(self.other_teachers[name] for name in self.ensemble)]

    def cohort_peers(self) -> list[ModelSpec]:
        """The models a mutual method trains beside the student, from scratch: one of the
        teacher's architecture (a GNN / MLP cohort)."""
        return [self.teacher]

    def teachers(self) -> list[str]:
        return sorted({self.teacher.name, *self.other_teachers})

    def with_teacher(self, name: str | None) -> "Protocol":
        """This protocol with the teacher named ``name`` (its default teacher when None)."""
        if name is None or name == self.teacher.name:
            return self
        if name not in self.other_teachers:
            raise UnknownNameError("teacher", name, self.teachers())
        spec, config = self.other_teachers[name]
        return replace(self, teacher=spec, teacher_config=config)

    def with_students(self, names: list[str] | None) -> "Protocol":
        """This protocol with the students in ``names``: model names of its default students
        (``mlp``) or keys of ``other_students`` (``gcn2x32``)."""
        if not names:
            return self
        valid = sorted({s.name for s in self.students} | set(self.other_students))
        for name in names:
            if name not in valid:
                raise UnknownNameError("student", name, valid)
        chosen = [s for s in self.students if s.name in names]
        return replace(self, students=chosen + [self.other_students[n] for n in names if n in self.other_students])

    def config_for(self, student: ModelSpec) -> TrainConfig:
        return self.student_overrides.get(student.name, self.student_config)

    def own_student(self, model: str) -> ModelSpec:
        """The student for a method that brings its own architecture (``Distiller.student_model``):
        this protocol's spec of that model when it has one (a paper's own settings), else gkd's."""
        return self.other_students.get(model) or OWN_STUDENTS.get(model, ModelSpec(model))


# Methods with their own student architecture, at their papers' sizes and settings.
OWN_STUDENTS: dict[str, ModelSpec] = {
    "cpf": ModelSpec("cpf", hidden=64, num_layers=10, dropout=0.6),
    # NOSMOG's MLP at the size of the citation protocol's MLP student, so the comparison with GLNN is even
    "nosmog": ModelSpec("nosmog", hidden=128, num_layers=2, dropout=0.8),
}
OWN_STUDENT_CONFIGS: dict[str, TrainConfig] = {
    # weight decay 5e-4: with the mean (per-node) distance, CPF's 0.01 swamps the per-node parameters
    "cpf": TrainConfig(epochs=500, lr=0.01, weight_decay=5e-4, patience=100),
}


_CITATION = Protocol(
    split="cpf",
    teacher=ModelSpec("sage", hidden=128, num_layers=2, dropout=0.8),
    students=[ModelSpec("mlp", hidden=128, num_layers=2, dropout=0.8),
              ModelSpec("sage", hidden=32, num_layers=2, dropout=0.5)],
    teacher_config=TrainConfig(epochs=500, lr=0.01, weight_decay=5e-4, patience=100),
    student_config=TrainConfig(epochs=500, lr=0.01, weight_decay=5e-3, patience=100),
    notes="GLNN protocol: CPF split (20/30 labels per class), SAGE 2x128 teacher, MLP 2x128 student; "
          "dropout and patience tuned on Cora validation (5 seeds)",
    # CPF's own comparison uses a GCN teacher (settings tuned on Cora / CiteSeer validation)
    other_teachers={"gcn": (ModelSpec("gcn", hidden=64, num_layers=2, dropout=0.8),
                            TrainConfig(epochs=500, lr=0.01, weight_decay=5e-3, patience=100)),
                    # the intermediate-layer comparison's deeper, wider teacher
                    "sage3x256": (ModelSpec("sage", hidden=256, num_layers=3, dropout=0.8),
                                  TrainConfig(epochs=500, lr=0.01, weight_decay=5e-4, patience=100)),
                    # the third architecture of the several-teacher comparison (PyG's GAT example's
                    # optimiser: lr 0.005, weight decay 5e-4; gkd's GAT: 4 heads of 16)
                    "gat": (ModelSpec("gat", hidden=64, num_layers=2, dropout=0.6),
                            TrainConfig(epochs=500, lr=0.005, weight_decay=5e-4, patience=100))},
    ensemble=("gcn", "gat"),  # with the SAGE teacher: three architectures, each cached
    other_students={"gcn2x32": ModelSpec("gcn", hidden=32, num_layers=2, dropout=0.5),
                    # a deep GCN, where GNN-SD claims its gains (a plain 8-layer GCN over-smooths)
                    "gcn8x64": ModelSpec("gcn", hidden=64, num_layers=8, dropout=0.5)},
    student_overrides={"gcn": TrainConfig(epochs=500, lr=0.01, weight_decay=5e-4, patience=100)},
    # TGS learns along 2,048 of the edges each step (one step an epoch; the authors: every edge, in
    # batches of 512): on this CPU every edge made a run of 500 epochs take over 5 minutes
    method_options={"tgs": {"max_edges": 2048}},
)

_OGB_NODE = Protocol(
    split="official",
    teacher=ModelSpec("sage", hidden=256, num_layers=3, dropout=0.5, norm="batch"),
    students=[ModelSpec("mlp", hidden=256, num_layers=3, dropout=0.2, norm="batch"),
              ModelSpec("sage", hidden=64, num_layers=2, dropout=0.2)],
    teacher_config=TrainConfig(epochs=300, lr=0.01, weight_decay=0.0, patience=50),
    student_config=TrainConfig(epochs=300, lr=0.01, weight_decay=0.0, patience=50),
    notes="SAGE 3x256 + BatchNorm teacher (GLNN's OGB teacher); MLP 3x256 student (GLNN: 3x1024)",
)

_TOY_NODE = Protocol(
    split="random",
    teacher=ModelSpec("sage", hidden=64, num_layers=2, dropout=0.3),
    students=[ModelSpec("mlp", hidden=64, num_layers=2, dropout=0.3),
              ModelSpec("sage", hidden=16, num_layers=2, dropout=0.3)],
    teacher_config=TrainConfig(epochs=200, lr=0.01, weight_decay=5e-4, patience=50),
    student_config=TrainConfig(epochs=200, lr=0.01, weight_decay=5e-4, patience=50),
    notes="embedded CSBM node task (2,000 nodes)",
    other_teachers={name: (ModelSpec(name, hidden=64, num_layers=2, dropout=0.3),
                           TrainConfig(epochs=200, lr=0.01, weight_decay=5e-4, patience=50))
                    for name in ("gcn", "gat")},
    ensemble=("gcn", "gat"),
)

_TOY_GRAPH = Protocol(
    split="random",
    teacher=ModelSpec("gin", hidden=32, num_layers=3),
    students=[ModelSpec("mlp", hidden=32, num_layers=2), ModelSpec("gcn", hidden=16, num_layers=2)],
    teacher_config=TrainConfig(epochs=30, lr=0.01, weight_decay=0.0, patience=10, batch_size=64),
    student_config=TrainConfig(epochs=30, lr=0.01, weight_decay=0.0, patience=10, batch_size=64),
    notes="embedded graph-classification task (600 graphs, 3 classes)",
)

_MOL = Protocol(
    split="scaffold",
    teacher=ModelSpec("gin", hidden=128, num_layers=3, dropout=0.5),
    students=[ModelSpec("mlp", hidden=128, num_layers=2, dropout=0.5),
              ModelSpec("gcn", hidden=64, num_layers=2, dropout=0.5)],
    teacher_config=TrainConfig(epochs=50, lr=0.001, weight_decay=0.0, patience=15, batch_size=128),
    student_config=TrainConfig(epochs=50, lr=0.001, weight_decay=0.0, patience=15, batch_size=128),
    notes="OGB scaffold split; GIN 3x128 teacher (G-CRD: GIN-E 5x300), ROC-AUC",
    # G-CRD's pair, scaled to a CPU: a 5-layer GIN with bond features to a 2-layer GCN of 15,000
    # parameters (hidden 53; G-CRD's student: about 15K)
    other_teachers={"gine5x64": (ModelSpec("gine", hidden=64, num_layers=5, dropout=0.5, norm="batch"),
                                 TrainConfig(epochs=50, lr=0.001, weight_decay=0.0, patience=15, batch_size=128))},
    other_students={"gcn2x53": ModelSpec("gcn", hidden=53, num_layers=2, dropout=0.5)},
)

_DIGITS_CONFIG = TrainConfig(epochs=20, lr=0.01, weight_decay=5e-4, patience=10, batch_size=64)
_DIGITS = Protocol(
    split="random",
    teacher=ModelSpec("resnet", hidden=16, num_layers=1),
    students=[ModelSpec("resnet", hidden=4, num_layers=1)],
    teacher_config=_DIGITS_CONFIG,
    student_config=_DIGITS_CONFIG,
    notes="scikit-learn digits (embedded), 60/20/20 split; ResNet 16/32/64 teacher, ResNet 4/8/16 student",
    other_students={"vit": ModelSpec("vit", hidden=32, num_layers=2)},
)

# CIFAR on a CPU: a ResNet8 (16/32/64 channels, 78K parameters) teacher and a ResNet8 with a quarter
# of the width (5K parameters, 15x smaller); ``--subset`` trains on part of the training set. The
# learning rate follows a cosine to 0 over the budget: at a constant rate the validation score
# swung by 5 points from one epoch to the next, which drowned the differences between methods
_CIFAR_CONFIG = TrainConfig(epochs=30, lr=0.005, weight_decay=5e-4, patience=10, batch_size=128, lr_schedule="cosine")
_CIFAR = Protocol(
    split="official",
    teacher=ModelSpec("resnet", hidden=16, num_layers=1),
    students=[ModelSpec("resnet", hidden=4, num_layers=1)],
    teacher_config=_CIFAR_CONFIG,
    student_config=_CIFAR_CONFIG,
    notes="CIFAR (official test set, 5,000 training images held out for validation), crop + flip",
    other_teachers={"resnet20": (ModelSpec("resnet", hidden=16, num_layers=3), _CIFAR_CONFIG)},
    other_students={"vit": ModelSpec("vit", hidden=32, num_layers=2)},
)

# Link prediction, LLP's protocol (Guo et al., ICML 2023; snap-research/linkless-link-prediction):
# train_teacher_gnn.py's defaults (SAGE, 2 layers of 256, dropout 0.5, Adam lr 0.005, no weight
# decay, link batches of 64K pairs, patience 100 epochs on validation Hits@20) and main.py's student
# (an MLP of the same size; the learning rate 0.01 of scripts/LLP_transductive.sh); gradients
# clipped at norm 1 (both scripts' clip_grad_norm_ of the model and of the predictor). Their epoch
# budget (20,000, reached only without early stopping) is capped at 1,000 here.
_LINK_CONFIG = TrainConfig(epochs=1000, lr=0.005, weight_decay=0.0, patience=100, batch_size=65536, grad_clip=1.0)
_LINK = Protocol(
    split="transductive",
    teacher=ModelSpec("sage", hidden=256, num_layers=2, dropout=0.5),
    students=[ModelSpec("mlp", hidden=256, num_layers=2, dropout=0.5)],
    teacher_config=_LINK_CONFIG,
    student_config=replace(_LINK_CONFIG, lr=0.01),
    notes="LLP's protocol: SAGE 2x256 teacher, MLP 2x256 student, MLP link decoder, Hits@20",
)
# The same models and budget on OGB's link sets, on their official split; model selection on the
# set's own OGB metric (the task's: Hits@50 collab, MRR citation2, Hits@100 ppa).
_OGB_LINK = replace(_LINK, split="official",
                    notes="LLP's protocol on OGB's official split: SAGE 2x256 teacher, MLP 2x256 student, MLP link "
                          "decoder, the set's OGB metric (Hits@50 collab, MRR citation2, Hits@100 ppa)")

# LLP's options per link set and setting: the authors' swept values (scripts/LLP_transductive.sh and
# LLP_production.sh: --True_label, --LLP_R, --LLP_D, --margin, --rw_step, --hops, --ns_rate)
LLP_OPTIONS: dict[tuple[str, str], dict] = {
    ("cora-link", "transductive"): dict(label_weight=0.1, rank_weight=1.0, distribution_weight=0.001, margin=0.1,
                                        walks=3, hops=2, random_rate=1),
    ("citeseer-link", "transductive"): dict(label_weight=0.001, rank_weight=1000.0, distribution_weight=0.001,
                                            margin=0.1, walks=3, hops=1, random_rate=4),
    ("cora-link", "production"): dict(label_weight=1000.0, rank_weight=0.01, distribution_weight=0.001, margin=0.05,
                                      walks=3, hops=3, random_rate=3),
    ("citeseer-link", "production"): dict(label_weight=100.0, rank_weight=0.0001, distribution_weight=0.0,
                                          margin=0.1, walks=3, hops=1, random_rate=5),
}

PROTOCOLS: dict[str, Protocol] = {
    "cora": _CITATION, "citeseer": _CITATION, "pubmed": _CITATION,
    # the same protocol on the papers' graphs (largest connected component, the authors' split drawing)
    "cora-lcc": _CITATION, "citeseer-lcc": _CITATION, "pubmed-lcc": _CITATION,
    "ogbn-arxiv": _OGB_NODE, "ogbn-products": _OGB_NODE,
    # the OGB node protocol on the synthetic graphs of the same shapes (their split is drawn at random)
    "synthetic-arxiv": replace(_OGB_NODE, split="random"), "synthetic-products": replace(_OGB_NODE, split="random"),
    "synthetic": _TOY_NODE, "synthetic-graphs": _TOY_GRAPH,
    "ogbg-molhiv": _MOL, "ogbg-molpcba": _MOL,
    "digits": _DIGITS, "cifar10": _CIFAR, "cifar100": _CIFAR,
    # LLP's transductive options for each set (the link suite gives the production ones)
    **{name: replace(_LINK, method_options={"llp": LLP_OPTIONS[(name, "transductive")]})
       for name in ("cora-link", "citeseer-link")},
    "synthetic-link": _LINK,
    "ogbl-collab": _OGB_LINK, "ogbl-citation2": _OGB_LINK, "ogbl-ppa": _OGB_LINK,
}


# --------------------------------------------------------------------------- the papers' own protocols
# Read from the authors' code and configuration. GLNN (snap-research/graphless-neural-networks):
# train.conf.yaml (per-dataset models), experiments/sage_cpf.sh and glnn_cpf.sh (--max_epoch 200
# --patience 50 --num_exp 10), train_student.py's defaults (--lamb 0, --batch_size 512,
# --fan_out 5,5), train_and_eval.py (best validation epoch, ties to the later). NOSMOG
# (meettyj/NOSMOG): tran.conf.yaml, experiments/nosmog_cpf.sh (--dw --feat_distill --adv,
# 200 epochs, patience 50), train_and_eval.py (PGD: 5 steps of eps / 4, uniform start; the
# adversarial term weighs 0.1). Both load the graphs' largest components (the *-lcc datasets) and
# train on the binary features as released (dataloader.py load_cpf_data: no row normalisation;
# the normalised adjacency there feeds only their GCN), so normalize_features stays False.
# models.py: SAGEConv(in, out, "gcn") (the GCN aggregator: gkd's sage-gcn); train.conf.yaml SAGE: dropout_ratio 0
_GLNN_TEACHER = ModelSpec("sage-gcn", hidden=128, num_layers=2, dropout=0.0)
# SAGE: learning_rate 0.01, weight_decay 0.0005, fan_out 5,5; batch_size 512 (train_student.py default)
_GLNN_TEACHER_CONFIG = TrainConfig(epochs=200, lr=0.01, weight_decay=5e-4, patience=50, fanouts=(5, 5), batch_size=512)
# train.conf.yaml MLP (global: 2 layers, 128 hidden): (dropout_ratio, weight_decay, learning_rate)
_GLNN_MLP = {"cora": (0.6, 0.005, 0.01), "citeseer": (0.1, 0.001, 0.01), "pubmed": (0.4, 0.0, 0.005)}
# tran.conf.yaml MLP, NOSMOG's additions: dw_emb_size, dw_num_walks, dw_walk_length, dw_window_size,
# dw_iter, adv_eps, feat_distill_weight
_NOSMOG_EXTRA = {"cora": (64, 5, 50, 5, 1, 0.04, 0.1), "citeseer": (16, 3, 50, 5, 5, 0.045, 0.1)}


def _glnn_paper(base: str) -> Protocol:
    """GLNN's protocol on ``base``'s largest component: its SAGE teacher trained on sampled
    neighbourhoods (5, 5) in batches of 512 seeds, its MLP trained on batches of 512 nodes (the
    labelled ones alone, or every node under distillation), 200 epochs, patience 50."""
    dropout, weight_decay, lr = _GLNN_MLP[base]
    student = TrainConfig(epochs=200, lr=lr, weight_decay=weight_decay, patience=50,
                          fanouts=(5, 5), batch_size=512)  # an MLP reads no neighbours: node batches
    return Protocol(
        split="cpf", teacher=_GLNN_TEACHER, students=[ModelSpec("mlp", hidden=128, num_layers=2, dropout=dropout)],
        teacher_config=_GLNN_TEACHER_CONFIG, student_config=student,
        notes="GLNN's own settings (train.conf.yaml, experiments/*_cpf.sh), lamb 0",
        method_options={"glnn": {"lam": 0.0}})


def _nosmog_paper(base: str) -> Protocol:
    """NOSMOG's protocol on ``base``'s largest component: GLNN's teacher; its MLP (GLNN's
    per-dataset size and optimiser) on [x || DeepWalk position] with its walk settings, PGD radius
    and similarity weight, trained as the authors train it: batches of 512 nodes (full-batch, one
    step an epoch, the similarity term threw the student off: Cora seeds 0 / 1, 70.0 / 69.4
    full-batch against 79.5 / 82.2 in batches)."""
    glnn = _glnn_paper(base)  # the same teacher, MLP size and optimiser (tran.conf.yaml repeats GLNN's)
    dropout = glnn.students[0].dropout
    dim, walks, length, window, epochs, eps, similarity = _NOSMOG_EXTRA[base]
    walk = (("dim", dim), ("walks_per_node", walks), ("walk_length", length), ("window", window), ("epochs", epochs))
    student = ModelSpec("nosmog", hidden=128, num_layers=2, dropout=dropout, options=walk)
    return replace(
        glnn, notes="NOSMOG's own settings (tran.conf.yaml, experiments/nosmog_cpf.sh)",
        other_students={"nosmog": student},
        # the projector's dropout is the MLP's (encode_mlp4kd uses the model's dropout)
        method_options={"nosmog": {"lam": 0.0, "adv_weight": 0.1, "epsilon": eps, "steps": 5,
                                   "similarity_weight": similarity, "dropout": dropout}})


# CPF (BUPT-GAMMA/CPF): models/train.conf.yaml (GCN teacher; global max_epoch 500, patience 50),
# spawn_worker.py's predefined_configs["tra"]["GCN"] (the student), utils/metrics.py my_loss (one
# Frobenius norm over the block: gkd's reduction "frobenius"), data/make_dataset.py (binary
# features, the largest component). The authors draw one split (RandomState(0)) for every run.
# dataset: (num_layers, emb_dim, feat_drop, attn_drop, lr, wd) of the "tra" student
_CPF_TRA = {"cora": (7, 32, 0.8, 0.2, 0.001, 0.01), "citeseer": (6, 64, 0.8, 0.2, 0.001, 0.01)}


def _cpf_paper(base: str) -> Protocol:
    """CPF's protocol on ``base``'s largest component: its GCN teacher (64 hidden, dropout 0.8,
    weight decay 0.001) and its "tra" student (one free confidence per node) at the authors'
    per-dataset depth, width, dropouts and optimiser, trained on the Frobenius distance. The
    student is built as ``models/PLP.py`` builds it: FT's raw scores and a ReLU per layer
    (``ft_output="scores"``), FT and the attention drawn afresh in every layer
    (``per_layer_dropout``), the feature dropout on the node confidences too, which start from
    ``xavier_normal_``."""
    layers, width, feat_drop, attn_drop, lr, weight_decay = _CPF_TRA[base]
    student = ModelSpec("cpf", hidden=width, num_layers=layers, dropout=feat_drop,
                        options=(("attention_dropout", attn_drop), ("confidence_dropout", feat_drop),
                                 ("confidence_init", "xavier"), ("ft_output", "scores"),
                                 ("per_layer_dropout", True)))
    return Protocol(
        split="cpf", teacher=ModelSpec("gcn", hidden=64, num_layers=2, dropout=0.8),
        students=[], teacher_config=TrainConfig(epochs=500, lr=0.01, weight_decay=0.001, patience=50),
        student_config=TrainConfig(epochs=500, lr=lr, weight_decay=weight_decay, patience=50),
        notes="CPF's own settings (models/train.conf.yaml, spawn_worker.py predefined_configs tra/GCN)",
        other_students={"cpf": student}, method_options={"cpf": {"reduction": "frobenius"}})


PAPER_PROTOCOLS: dict[str, dict[str, Protocol]] = {
    "glnn": {f"{base}-lcc": _glnn_paper(base) for base in ("cora", "citeseer", "pubmed")},
    "nosmog": {f"{base}-lcc": _nosmog_paper(base) for base in ("cora", "citeseer")},
    "cpf": {f"{base}-lcc": _cpf_paper(base) for base in ("cora", "citeseer")},
}


def protocol(dataset: str, epochs: int | None = None, paper: str | None = None) -> Protocol:
    """``dataset``'s protocol (its paper's own with ``paper``, a key of ``PAPER_PROTOCOLS``), with
    ``epochs`` overriding every epoch budget."""
    if paper is None:  # gkd's own students' settings (CPF's) join the dataset's protocol
        base = PROTOCOLS[dataset]
        base = replace(base, student_overrides={**OWN_STUDENT_CONFIGS, **base.student_overrides})
    else:
        if paper not in PAPER_PROTOCOLS:
            raise UnknownNameError("protocol", paper, sorted(PAPER_PROTOCOLS))
        if dataset not in PAPER_PROTOCOLS[paper]:
            raise UnknownNameError("dataset", dataset, sorted(PAPER_PROTOCOLS[paper]))
        base = PAPER_PROTOCOLS[paper][dataset]
    if epochs is None:
        return base
    return replace(base, teacher_config=replace(base.teacher_config, epochs=epochs),
                   student_config=replace(base.student_config, epochs=epochs),
                   student_overrides={k: replace(v, epochs=epochs) for k, v in base.student_overrides.items()})


def capped(proto: Protocol, max_epochs: int) -> Protocol:
    """``proto`` with every epoch budget (teacher, students, own students) at most ``max_epochs``
    and patience no longer than the budget: ``--budget`` for a quick look."""
    def cap(config: TrainConfig) -> TrainConfig:
        epochs = min(config.epochs, max_epochs)
        return replace(config, epochs=epochs, patience=min(config.patience, epochs))

    return replace(proto, teacher_config=cap(proto.teacher_config), student_config=cap(proto.student_config),
                   student_overrides={k: cap(v) for k, v in proto.student_overrides.items()},
                   other_teachers={k: (spec, cap(c)) for k, (spec, c) in proto.other_teachers.items()})
