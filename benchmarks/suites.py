"""Named benchmark suites: which datasets, methods and protocol options ``--suite NAME`` runs.

Every entry runs under its dataset's protocol (``benchmarks.protocols``): the same splits, seeds,
epoch budget and early stopping for every method, the teacher trained once per (dataset,
teacher, seed) and shared through the cache. ``survey`` runs each method under its own paper's
protocol and names the paper, so the report can put the published figure beside ours
(``benchmarks.published``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gkd.errors import UnknownNameError

from .protocols import LLP_OPTIONS


@dataclass(frozen=True)
class Entry:
    """One dataset of a suite. ``teacher`` / ``students``: a protocol's other teacher or a subset
    of its students (None: the protocol's own). ``split``: overrides the protocol's split (a
    paper's own, e.g. ``public`` for KRD). ``setting``: ``transductive`` or ``inductive`` (GLNN's:
    20% of the test nodes hidden from training, see ``gkd.data.inductive``). ``paper``: whose
    protocol this is, the key of its published figures; ``paper_pair``: the (teacher, student)
    as that paper names them, where it reports several pairs on one dataset. ``protocol``: a
    paper's own protocol (``benchmarks.protocols.PAPER_PROTOCOLS``; None: the dataset's).
    ``options``: method name -> its constructor options, over the protocol's
    (``Protocol.method_options``): a configuration file's (``benchmarks.config``); None: none."""

    dataset: str
    methods: tuple[str, ...]
    teacher: str | None = None
    students: tuple[str, ...] | None = None
    split: str | None = None
    setting: str = "transductive"
    paper: str | None = None
    paper_pair: tuple[str, str] | None = None
    protocol: str | None = None
    options: dict[str, dict] | None = field(default=None, hash=False)


CITATION = ("cora", "citeseer", "pubmed")
OGB_NODE = ("ogbn-arxiv", "ogbn-products")
NODE_METHODS = ("none", "kd", "glnn", "dkd", "rld", "cpf", "krd", "faithful", "fitnet", "srd", "lsp", "gcrd", "nosmog")
INDUCTIVE_METHODS = ("none", "kd", "glnn")  # methods whose student runs on unseen nodes without retraining
GRAPH_METHODS = ("none", "kd", "dkd", "fitnet", "srd", "lsp", "gcrd", "rkd")
VISION_METHODS = ("none", "kd", "dkd", "rld", "srd", "rkd", "trg")


def _node() -> tuple[Entry, ...]:
    entries = []
    for dataset in CITATION + OGB_NODE:
        entries.append(Entry(dataset, NODE_METHODS, students=("mlp",)))
        entries.append(Entry(dataset, INDUCTIVE_METHODS, students=("mlp",), setting="inductive"))
    return tuple(entries)


def _survey() -> tuple[Entry, ...]:
    """The graph-KD survey's three families, each method under its paper's protocol on the sets
    gkd holds: GLNN and NOSMOG (CPF split, SAGE teacher, MLP student; GLNN also inductive), CPF
    (CPF split, GCN teacher), KRD (public split), the intermediate-layer methods of G-CRD's
    comparison (OGB official split, GIN-E teacher, GCN student of 15K parameters)."""
    entries = []
    for dataset in CITATION + OGB_NODE:
        entries.append(Entry(dataset, ("none", "glnn"), students=("mlp",), paper="GLNN"))
        entries.append(Entry(dataset, ("none", "glnn"), students=("mlp",), setting="inductive", paper="GLNN"))
        entries.append(Entry(dataset, ("nosmog",), paper="NOSMOG"))
    for dataset in CITATION:
        # gkd's CPF student defaults to one free confidence per node: CPF's "tra" parameterisation
        entries.append(Entry(dataset, ("cpf",), teacher="gcn", paper="CPF", paper_pair=("GCN", "CPF-tra")))
        entries.append(Entry(dataset, ("none", "kd", "krd"), students=("mlp",), split="public", paper="KRD"))
    entries.append(Entry("ogbg-molhiv", ("none", "kd", "fitnet", "lsp", "gcrd"), teacher="gine5x64",
                         students=("gcn2x53",), paper="G-CRD", paper_pair=("GIN-E 5L", "GCN 2L (15K)")))
    return tuple(entries)


# who teaches whom (issue 20): the self-distillation methods and the cohort against the same model
# alone, the ensemble of the protocol's three teachers against KD from each, on the papers' graphs
# with the CPF split and its 5-labels-per-class variant
TEACHING_DATASETS = ("cora-lcc", "citeseer-lcc")
TEACHING_SPLITS = ("cpf", "cpf-5")
SELF_METHODS = ("tgs", "linkdist")  # MLP students
GNN_SELF_METHODS = ("gnnsd",)  # on a deep GCN (8 x 64), where the paper claims its gains


def _teaching() -> tuple[Entry, ...]:
    entries = []
    for dataset in TEACHING_DATASETS:
        for split in TEACHING_SPLITS:
            entries.append(Entry(dataset, ("none", "kd", "ensemble", "dml", *SELF_METHODS), students=("mlp",),
                                 split=split))
            entries += [Entry(dataset, ("kd",), teacher=t, students=("mlp",), split=split) for t in ("gcn", "gat")]
            entries.append(Entry(dataset, ("none", *GNN_SELF_METHODS), students=("gcn8x64",), split=split))
    return tuple(entries)


# link prediction (issue 21): LLP against the MLP alone and KD on edge scores, SAGE teacher, in LLP's
# two settings, with LLP's options for each dataset and setting (``protocols.LLP_OPTIONS``)
LINK_DATASETS = ("cora-link", "citeseer-link")
LINK_SETTINGS = ("transductive", "production")
LINK_METHODS = ("none", "kd", "llp")


def _link() -> tuple[Entry, ...]:
    return tuple(Entry(dataset, LINK_METHODS, students=("mlp",), split=setting,
                       options={"llp": LLP_OPTIONS[(dataset, setting)]})
                 for dataset in LINK_DATASETS for setting in LINK_SETTINGS)


SUITES: dict[str, tuple[Entry, ...]] = {
    "quick": (Entry("synthetic", ("none", "kd", "glnn")), Entry("synthetic-graphs", ("none", "kd", "glnn")),
              Entry("digits", ("none", "kd", "trg"))),
    "node": _node(),
    "graph": tuple(Entry(d, GRAPH_METHODS) for d in ("ogbg-molhiv", "ogbg-molpcba")),
    "vision": tuple(Entry(d, VISION_METHODS) for d in ("digits", "cifar10", "cifar100")),
    "survey": _survey(),
    "teaching": _teaching(),
    "link": _link(),
}

# seeds a suite runs when ``--seeds`` is not given (the quick suite's budget is minutes)
DEFAULT_SEEDS = {"quick": 2}


def suite(name: str, datasets: list[str] | None = None) -> tuple[Entry, ...]:
    """The entries of suite ``name``, only those on ``datasets`` when given."""
    if name not in SUITES:
        raise UnknownNameError("suite", name, sorted(SUITES))
    entries = SUITES[name]
    return entries if not datasets else tuple(e for e in entries if e.dataset in datasets)
