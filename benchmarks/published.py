"""Published figures to stand beside ours: other people's numbers, kept apart from our results.

Every figure here was transcribed from ``shared/reference/published-figures.md``, which names its
sources: repository READMEs (GLNN, CPF, mdistiller), paper tables (G-CRD, LSP), an issue thread
(GraphAKD, after the authors' fix) and third-party transcriptions (RLD, torchdistill). None of
them was measured by gkd.

Splits and protocols differ between papers (CPF's random split of 20 train / 30 validation labels
per class; the Planetoid public split; OGB's official splits; GLNN's inductive setting that hides
20% of the test nodes), so compare a figure only with a result obtained under the same protocol:
``Figure.split`` and ``Figure.setting`` say which.

Conventions:

- ``value`` is in percent; ``metric`` is ``accuracy``, ``roc-auc`` or ``micro-f1``.
- ``method`` is gkd's method name where gkd has the method (``none``: the student trained alone;
  ``teacher``: the teacher's own figure); otherwise the paper's name, lowercased (``gsp``,
  ``graphakd``, ``kd+gcrd``, ``at``, ``projector``).
- A teacher figure carries the student of the comparison it belongs to, so filtering by student
  finds it; CPF's teacher figure serves both of its students and names them both.
- An empty ``teacher``, ``student`` or ``split`` means the source does not say.

GLNN's inference latencies on ogbn-products (ms) are in ``LATENCY_MS`` and its abstract's claimed
speed-up range in ``GLNN_SPEEDUP_CLAIM``; they are not ``Figure`` records (not percentages).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping


@dataclass(frozen=True)
class Figure:
    """One published number, with where it comes from and the setting it was measured in."""

    paper: str      # short key: "GLNN", "CPF", "G-CRD", "LSP", "GraphAKD", "mdistiller/RLD", "Projector"
    citation: str   # authors, venue, year (as far as the source says)
    table: str      # where the number comes from: "repository README", "paper table", ...
    dataset: str    # gkd's dataset name: "cora", "ogbn-arxiv", "ogbg-molhiv", "cifar100", ...
    setting: str    # "transductive", "inductive", "production", "graph-level", or "ResNet56 -> ResNet20"
    split: str      # "cpf", "official", "public", "" when the source does not say
    teacher: str    # as the paper names it, e.g. "SAGE 2x128"
    student: str
    method: str     # gkd's method name where gkd has it, else the paper's name lowercased
    value: float    # percent
    metric: str     # "accuracy", "roc-auc", "micro-f1"
    note: str = ""
    std: float | None = None  # the published spread over seeds, where the source gives one


# --------------------------------------------------------------------------- GLNN
_GLNN = "Zhang et al., ICLR 2022 (Graph-less Neural Networks)"
_GLNN_SMALL = ("SAGE 2x128", "MLP 2x128", "cpf")
_GLNN_MODELS = {
    "cora": _GLNN_SMALL, "citeseer": _GLNN_SMALL, "pubmed": _GLNN_SMALL,
    "a-computer": _GLNN_SMALL, "a-photo": _GLNN_SMALL,
    "ogbn-arxiv": ("SAGE 3x256 BN", "MLP 3x1024", "official"),
    "ogbn-products": ("SAGE 3x256 BN", "MLP 3x2048", "official"),
}
# dataset: (SAGE tran, SAGE ind), (MLP tran, MLP ind), (GLNN tran, GLNN ind), (SAGE, MLP, GLNN prod)
_GLNN_TABLE: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float],
                             tuple[float, float, float]]] = {
    "cora": ((78.78, 81.33), (58.95, 59.09), (79.39, 73.82), (79.29, 58.98, 78.28)),
    "citeseer": ((68.04, 69.75), (59.75, 60.06), (69.28, 69.25), (68.38, 59.81, 69.27)),
    "pubmed": ((74.78, 75.26), (66.79, 66.85), (74.81, 74.30), (74.88, 66.80, 74.71)),
    "a-computer": ((82.15, 82.08), (67.27, 67.84), (82.63, 80.92), (82.14, 67.38, 82.29)),
    "a-photo": ((90.80, 91.50), (79.20, 79.44), (92.68, 91.18), (91.08, 79.25, 92.38)),
    "ogbn-arxiv": ((70.75, 70.64), (55.28, 55.40), (71.46, 60.48), (70.73, 55.30, 65.09)),
    "ogbn-products": ((76.53, 76.89), (63.73, 63.70), (75.92, 75.16), (76.60, 63.72, 75.77)),
}
_GLNN_ARXIV_CAVEAT = ("uncertain (*): the README's own difference columns imply about 66.44 (tran) / "
                      "59.70 (ind) for arxiv")
_PROD_NOTE = "production: 0.8 transductive + 0.2 inductive"


def _glnn() -> list[Figure]:
    figures = []
    for dataset, (sage, mlp, glnn, prod) in _GLNN_TABLE.items():
        teacher, student, split = _GLNN_MODELS[dataset]

        def add(setting: str, method: str, value: float, note: str = "") -> None:
            figures.append(Figure("GLNN", _GLNN, "repository README", dataset, setting, split,
                                  teacher, student, method, value, "accuracy", note))

        for method, pair in (("teacher", sage), ("none", mlp), ("glnn", glnn)):
            caveat = _GLNN_ARXIV_CAVEAT if dataset == "ogbn-arxiv" and method == "glnn" else ""
            add("transductive", method, pair[0], caveat)
            add("inductive", method, pair[1], caveat)
        for method, value in zip(("teacher", "none", "glnn"), prod):
            add("production", method, value, _PROD_NOTE)
    return figures


#: GLNN repository figure: inference latency on ogbn-products in ms, keyed by (model, layers).
LATENCY_MS: Mapping[tuple[str, int], float] = MappingProxyType({
    ("SAGE", 1): 29.31, ("SAGE", 2): 101.81, ("SAGE", 3): 2071.3, ("SAGE", 4): 33006.4,
    ("MLP", 1): 0.69, ("MLP", 2): 1.3, ("MLP", 3): 1.84, ("MLP", 4): 2.34,
    ("MLP 8x wide", 3): 7.56,
})
#: GLNN's abstract: inference 146x to 273x faster than GNNs.
GLNN_SPEEDUP_CLAIM: tuple[float, float] = (146.0, 273.0)


# --------------------------------------------------------------------------- CPF
_CPF = "Yang, Liu & Shi, WWW 2021 (CPF)"
_CPF_NOTE = ('"ind"/"tra": CPF\'s two confidence parameterisations (gkd: CPFStudent confidence '
             '"feature"/"node"), not evaluation settings')
# dataset: GCN teacher, CPF-ind, CPF-tra
_CPF_TABLE = {
    "cora": (82.44, 85.76, 85.67),
    "citeseer": (71.10, 76.19, 76.52),
    "pubmed": (78.04, 80.80, 81.04),
    "a-computer": (83.18, 84.43, 84.43),
    "a-photo": (90.72, 93.17, 92.48),
}


def _cpf() -> list[Figure]:
    figures = []
    for dataset, (teacher, ind, tra) in _CPF_TABLE.items():
        for student, method, value in (("CPF-ind / CPF-tra", "teacher", teacher),
                                       ("CPF-ind", "cpf", ind), ("CPF-tra", "cpf", tra)):
            figures.append(Figure("CPF", _CPF, "repository README", dataset, "transductive", "cpf",
                                  "GCN", student, method, value, "accuracy", _CPF_NOTE))
    return figures


# --------------------------------------------------------------------------- G-CRD
_GCRD = "Joshi et al., IEEE TNNLS 2022 (G-CRD)"
_GCRD_METHODS = ("teacher", "none", "kd", "fitnet", "lsp", "gsp", "gcrd", "kd+gcrd")
# (dataset, teacher, student, metric, seeds note, values in _GCRD_METHODS order; None: "-")
_GCRD_TABLE: list[tuple[str, str, str, str, str, tuple[float | None, ...]]] = [
    ("ogbn-arxiv", "GAT 3L", "GCN 2L (44K)", "accuracy", "10 seeds",
     (73.91, 71.25, 71.55, 71.38, 71.52, 71.41, 71.64, 71.57)),
    ("ogbn-arxiv", "GAT 3L", "SAGE 2L (87K)", "accuracy", "10 seeds",
     (73.91, 70.97, 71.44, 70.78, 70.95, 70.98, 71.15, 71.59)),
    ("ogbg-molhiv", "GIN-E 5L", "GCN 2L (15K)", "roc-auc", "8 seeds",
     (77.69, 73.02, 74.08, 73.62, 73.58, 72.83, 74.34, None)),
    ("ogbg-molhiv", "PNA", "GCN 2L (40K)", "roc-auc", "8 seeds",
     (77.48, 73.65, 74.45, 74.39, 74.43, 75.09, 75.89, None)),
    ("ogbg-molhiv", "PNA", "GIN 2L (10K)", "roc-auc", "8 seeds",
     (77.48, 73.03, 73.42, 72.88, 70.74, 69.68, 75.77, None)),
]


def _gcrd() -> list[Figure]:
    figures = []
    for dataset, teacher, student, metric, seeds, values in _GCRD_TABLE:
        setting = "transductive" if dataset.startswith("ogbn") else "graph-level"
        for method, value in zip(_GCRD_METHODS, values):
            if value is None:
                continue
            note = f"{seeds}; Hinton KD with alpha 0.9, T 4" if method == "kd" else seeds
            figures.append(Figure("G-CRD", _GCRD, "paper table (repository images)", dataset, setting,
                                  "official", teacher, student, method, value, metric, note))
    return figures


# --------------------------------------------------------------------------- LSP
_LSP = "Yang et al., CVPR 2020 (LSP)"


def _lsp() -> list[Figure]:
    values = {"teacher": 97.6, "none": 95.7, "lsp": 96.1, "fitnet": 95.6, "at": 95.4}
    return [Figure("LSP", _LSP, "paper table", "ppi", "inductive", "", "", "", method, value, "micro-f1",
                   "quoted in the G-CRD section of the reference; models not stated there")
            for method, value in values.items()]


# --------------------------------------------------------------------------- GraphAKD
_GRAPHAKD = "He et al., 2022 (GraphAKD)"


def _graphakd() -> list[Figure]:
    # dataset, student, value, metric
    rows = [("cora", "", 83.9, "accuracy"), ("citeseer", "", 72.9, "accuracy"),
            ("pubmed", "", 81.5, "accuracy"), ("ogbn-arxiv", "", 72.83, "accuracy"),
            ("ogbn-products", "Cluster-GCN", 81.72, "accuracy"),
            ("ogbg-molhiv", "GCN", 80.32, "roc-auc"), ("ogbg-molhiv", "GIN", 80.52, "roc-auc")]
    figures = []
    for dataset, student, value, metric in rows:
        setting = "graph-level" if dataset.startswith("ogbg") else "transductive"
        split = "official" if dataset.startswith("ogb") else ""
        figures.append(Figure("GraphAKD", _GRAPHAKD, "issue thread (after the authors' fix)", dataset,
                              setting, split, "", student, "graphakd", value, metric,
                              "student result; teacher baselines not given"))
    return figures


# --------------------------------------------------------------------------- vision
_MDISTILLER = "Zhao et al., CVPR 2022 (DKD; mdistiller README); RLD paper as transcribed by a third party"
# (dataset, teacher, student): KD, DKD, RLD
_VISION_TABLE = {
    ("cifar100", "ResNet56", "ResNet20"): (70.66, 71.97, 72.00),
    ("cifar100", "ResNet110", "ResNet32"): (73.08, 74.11, 74.02),
    ("cifar100", "ResNet32x4", "ResNet8x4"): (73.33, 76.32, 76.64),
    ("cifar100", "WRN40-2", "WRN40-1"): (73.54, 74.81, 74.88),
    ("cifar100", "VGG13", "VGG8"): (72.98, 74.68, 74.93),
    ("imagenet", "ResNet34", "ResNet18"): (71.03, 71.70, 71.91),
}


def _vision() -> list[Figure]:
    figures = []
    for (dataset, teacher, student), values in _VISION_TABLE.items():
        for method, value in zip(("kd", "dkd", "rld"), values):
            table = "RLD paper (third-party transcription)" if method == "rld" else "mdistiller README"
            figures.append(Figure("mdistiller/RLD", _MDISTILLER, table, dataset, f"{teacher} -> {student}",
                                  "official", teacher, student, method, value, "accuracy", "top-1"))
    return figures


_PROJECTOR = "Miles & Mikolajczyk (projector recipe)"


def _projector() -> list[Figure]:
    def fig(table: str, setting: str, teacher: str, student: str, method: str, value: float,
            note: str = "top-1") -> Figure:
        return Figure("Projector", _PROJECTOR, table, "imagenet", setting, "official", teacher, student,
                      method, value, "accuracy", note)

    r34 = "ResNet34 -> ResNet18"
    return [fig("authors' repository", r34, "ResNet34", "ResNet18", "projector", 71.87),
            fig("torchdistill reproduction", r34, "ResNet34", "ResNet18", "projector", 71.65),
            fig("torchdistill reproduction", r34, "ResNet34", "ResNet18", "none", 69.76),
            fig("source not stated", "DeiT-Ti", "", "DeiT-Ti", "projector", 77.2,
                "top-1; teacher and source not stated in the reference")]


# --------------------------------------------------------------------------- VQGraph, GLNN paper, MuGSI
_VQGRAPH = "Yang et al., ICLR 2024 (VQGraph)"
_LCC_NOTE = "the graph's largest connected component (gkd: cora-lcc / citeseer-lcc)"
# dataset: method -> (mean, std); SAGE teacher -> MLP 2x128, standard (transductive) setting, CPF split
_VQGRAPH_TABLE = {
    "cora": {"teacher": (80.64, 1.57), "none": (59.18, 1.60), "glnn": (80.26, 1.66), "nosmog": (83.04, 1.26),
             "vqgraph": (83.93, 0.87)},
    "citeseer": {"teacher": (70.49, 1.53), "none": (58.50, 1.86), "glnn": (71.22, 1.50), "nosmog": (73.78, 1.54),
                 "vqgraph": (76.08, 0.55)},
}


def _vqgraph() -> list[Figure]:
    figures = [Figure("VQGraph", _VQGRAPH, "paper Table 1", dataset, "transductive", "cpf", "SAGE", "MLP 2x128",
                      method, mean, "accuracy", _LCC_NOTE, std)
               for dataset, row in _VQGRAPH_TABLE.items() for method, (mean, std) in row.items()]
    figures.append(Figure("VQGraph", _VQGRAPH, "paper Table 1", "ogbn-arxiv", "transductive", "official", "SAGE",
                          "MLP", "nosmog", 71.65, "accuracy", "", 0.29))
    return figures


def _glnn_paper() -> list[Figure]:
    """GLNN's paper figures as GammaGL's ``examples/glnn`` quotes them ("Paper" column)."""
    quoted = {"cora": (80.54, 1.35), "citeseer": (71.77, 2.01)}
    return [Figure("GLNN paper", _GLNN, "paper, as quoted by GammaGL examples/glnn", dataset, "transductive", "cpf",
                   "SAGE", "MLP", "glnn", mean, "accuracy", _LCC_NOTE, std) for dataset, (mean, std) in quoted.items()]


_MUGSI = "Yao et al., WWW 2024 (MuGSI)"


def _mugsi() -> list[Figure]:
    """MuGSI's Table 2 on ogbg-molhiv (ROC-AUC), GIN teacher; students an MLP and a GA-MLP."""
    note = "official scaffold split; gkd's molhiv is rebuilt from MoleculeNet HIV"
    rows = [("GIN", "", "teacher", 76.43, None), ("GIN", "MLP", "none", 65.31, 1.49),
            ("GIN", "MLP", "glnn", 68.38, 1.01), ("GIN", "MLP", "nosmog", 64.56, 1.76),
            ("GIN", "MLP", "mugsi", 71.92, 0.71),
            ("GIN", "GA-MLP", "none", 71.55, 1.08), ("GIN", "GA-MLP", "glnn", 73.74, 0.92),
            ("GIN", "GA-MLP", "mugsi", 76.38, 0.95)]
    return [Figure("MuGSI", _MUGSI, "paper Table 2", "ogbg-molhiv", "graph-level", "official", teacher,
                   student or "MLP / GA-MLP", method, value, "roc-auc", note, std)
            for teacher, student, method, value, std in rows]


def _linkdist() -> list[Figure]:
    """LinkDist's own runs (cf020031308/LinkDist, ``run.log`` at commit c1d3d30, the version before
    CoLinkDist; read in the authors' repository, not in the shared reference): the MLP alone and
    LinkDist's MLP ("linkdist-nomp-trans": no message passing at inference), transductive."""
    note = ("the authors' split 0 (at most 20 training labels per class, main.py), Planetoid's whole graph, "
            "a 2-layer MLP; gkd's rows run on the largest component with the CPF split")
    rows = [("cora", "none", 56.28, 0.87), ("cora", "linkdist", 80.79, 0.43),
            ("citeseer", "none", 54.74, 1.10), ("citeseer", "linkdist", 70.26, 0.70)]
    return [Figure("LinkDist", _LINKDIST, "authors' run.log (c1d3d30)", dataset, "transductive", "20 per class", "",
                   "MLP", method, value, "accuracy", note, std) for dataset, method, value, std in rows]


_LINKDIST = "Luo et al., 2021 (Distilling Self-Knowledge From Contrastive Links to Classify Graph Nodes)"
# the papers of the self-distillation, mutual and several-teacher methods (``benchmarks.teaching``);
# TGS's, GNN-SD's and DML's tables were not reachable (only their abstracts are stored), and DML
# reports no graph set
TEACHING_PAPERS = ("LinkDist",)

FIGURES: tuple[Figure, ...] = tuple(_glnn() + _cpf() + _gcrd() + _lsp() + _graphakd() + _vision() + _projector()
                                    + _vqgraph() + _glnn_paper() + _mugsi() + _linkdist())


# --------------------------------------------------------------------------- queries
def lookup(dataset: str | None, method: str | None, *, paper: str | None = None, setting: str | None = None,
           teacher: str | None = None, student: str | None = None) -> list[Figure]:
    """Published figures matching every filter given (None matches anything), in table order."""
    wanted = {"dataset": dataset, "method": method, "paper": paper, "setting": setting,
              "teacher": teacher, "student": student}
    return [f for f in FIGURES if all(v is None or getattr(f, k) == v for k, v in wanted.items())]


def closest(dataset: str, method: str, paper: str, setting: str = "transductive") -> Figure | None:
    """The one published figure for (dataset, method) in ``paper`` under ``setting``, or None.

    Raises ValueError when several match (e.g. two students, or two teachers in one paper):
    narrow the query with ``lookup(..., teacher=..., student=...)``."""
    found = lookup(dataset, method, paper=paper, setting=setting)
    if len(found) > 1:
        which = "; ".join(f"{f.teacher or '?'} -> {f.student or '?'}: {f.value:g}" for f in found)
        raise ValueError(f"{len(found)} {paper} figures match {dataset} {method} ({setting}): {which}; "
                         f"use lookup() with teacher= or student= to choose")
    return found[0] if found else None


def papers() -> list[str]:
    """The papers' short keys, in table order."""
    return list(dict.fromkeys(f.paper for f in FIGURES))


def as_markdown(figures: Iterable[Figure]) -> str:
    """A markdown table of the figures (published numbers, not ours)."""
    lines = ["| paper | table | dataset | setting | teacher | student | method | value (%) | metric |",
             "|" + "---|" * 9]
    for f in figures:
        cells = [f.paper, f.table, f.dataset, f.setting, f.teacher or "-", f.student or "-", f.method,
                 f"{f.value:g}", f.metric]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["FIGURES", "Figure", "GLNN_SPEEDUP_CLAIM", "LATENCY_MS", "as_markdown", "closest", "lookup", "papers"]
