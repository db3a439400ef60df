"""Published figures: spot checks against shared/reference/published-figures.md and the queries."""
from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from benchmarks.published import FIGURES, as_markdown, closest, lookup, papers

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published-figures.md"

# Numeric cells in the reference file, counted by hand:
# GLNN: 7 datasets x (2 SAGE + 2 MLP + 2 GLNN + 3 production) = 63.
# CPF: 5 datasets x (teacher, CPF-ind, CPF-tra) = 15.
# G-CRD: 2 arxiv rows x 8 + 3 molhiv rows x 7 (their KD + G-CRD is "-") = 37.
# LSP (quoted in the G-CRD section, PPI): teacher, student, LSP, FitNet, AT = 5.
# GraphAKD: Cora, CiteSeer, PubMed, arxiv, products, molhiv GCN, molhiv GIN = 7.
# mdistiller/RLD: 6 pairs x (KD, DKD, RLD) = 18.
# Projector recipe: 71.87, 71.65, ResNet18 alone 69.76, DeiT-Ti 77.2 = 4.
# VQGraph Table 1: Cora and CiteSeer x (SAGE, MLP, GLNN, NOSMOG, VQGraph) + NOSMOG on arxiv = 11.
# GLNN paper as GammaGL quotes it: Cora, CiteSeer = 2.
# MuGSI molhiv: teacher + MLP (alone, GLNN, NOSMOG, MuGSI) + GA-MLP (alone, GLNN, MuGSI) = 8.
# LinkDist (the authors' run.log, not the reference file): Cora and CiteSeer x (MLP, LinkDist) = 4.
CELLS = {"GLNN": 63, "CPF": 15, "G-CRD": 37, "LSP": 5, "GraphAKD": 7, "mdistiller/RLD": 18, "Projector": 4,
         "VQGraph": 11, "GLNN paper": 2, "MuGSI": 8, "LinkDist": 4}


def one(dataset: str, method: str, **filters) -> float:
    found = lookup(dataset, method, **filters)
    assert len(found) == 1, found
    return found[0].value


def test_spot_checks():
    assert one("cora", "glnn", paper="GLNN", setting="transductive") == 79.39
    assert one("citeseer", "none", paper="GLNN", setting="inductive") == 60.06
    assert one("ogbn-products", "teacher", paper="GLNN", setting="production") == 76.60
    assert one("citeseer", "cpf", paper="CPF", student="CPF-ind") == 76.19
    assert closest("citeseer", "teacher", "CPF").value == 71.10
    assert one("a-computer", "cpf", paper="CPF", student="CPF-tra") == 84.43
    molhiv = lookup("ogbg-molhiv", "gcrd", paper="G-CRD", teacher="GIN-E 5L", student="GCN 2L (15K)")
    assert [(f.value, f.metric) for f in molhiv] == [(74.34, "roc-auc")]
    assert one("ogbn-arxiv", "kd+gcrd", paper="G-CRD", student="SAGE 2L (87K)") == 71.59
    assert lookup("ogbg-molhiv", "kd+gcrd") == []  # "-" in the table
    assert one("ppi", "lsp", paper="LSP") == 96.1
    assert lookup("ppi", "lsp")[0].metric == "micro-f1"
    assert one("ogbg-molhiv", "graphakd", student="GIN") == 80.52
    assert one("cifar100", "dkd", paper="mdistiller/RLD", setting="ResNet32x4 -> ResNet8x4") == 76.32
    assert one("imagenet", "rld", teacher="ResNet34", student="ResNet18") == 71.91
    assert one("imagenet", "none", paper="Projector") == 69.76
    vq = lookup("citeseer", "nosmog", paper="VQGraph")
    assert [(f.value, f.std) for f in vq] == [(73.78, 1.54)]
    assert [(f.value, f.std) for f in lookup("cora", "glnn", paper="GLNN paper")] == [(80.54, 1.35)]
    assert [(f.value, f.std) for f in lookup("ogbg-molhiv", "glnn", paper="MuGSI", student="MLP")] == [(68.38, 1.01)]
    assert closest("ogbg-molhiv", "teacher", "MuGSI", "graph-level").value == 76.43


def test_arxiv_glnn_caveat_is_kept():
    for setting in ("transductive", "inductive"):
        figure = closest("ogbn-arxiv", "glnn", "GLNN", setting)
        assert "uncertain" in figure.note
    assert closest("ogbn-arxiv", "glnn", "GLNN", "production").note.startswith("production")


def test_every_value_is_a_percentage():
    assert all(0 < f.value <= 100 for f in FIGURES)
    assert {f.metric for f in FIGURES} == {"accuracy", "roc-auc", "micro-f1"}


def test_every_cell_made_it_in():
    assert papers() == list(CELLS)
    for paper, count in CELLS.items():
        assert len(lookup(None, None, paper=paper)) == count, paper
    assert len(FIGURES) == sum(CELLS.values())
    assert len(set(FIGURES)) == len(FIGURES)  # no record twice


# figures read in the authors' repositories, not in the shared reference (checked cell by cell below)
OUTSIDE_REFERENCE = {"LinkDist"}


def test_linkdist_figures_are_the_authors_run_log():
    assert [(f.dataset, f.method, f.value, f.std) for f in lookup(None, None, paper="LinkDist")] == [
        ("cora", "none", 56.28, 0.87), ("cora", "linkdist", 80.79, 0.43),
        ("citeseer", "none", 54.74, 1.10), ("citeseer", "linkdist", 70.26, 0.70)]


@pytest.mark.skipif(not REFERENCE.exists(), reason=f"reference file absent: {REFERENCE}")
def test_every_value_appears_in_its_section_of_the_reference():
    """Catches a mistyped digit: each figure's value is one of the numbers in its paper's section."""
    sections = {}
    for part in REFERENCE.read_text().split("\n## ")[1:]:
        heading = part.split("\n", 1)[0]
        sections[re.split(r"[(,]", heading)[0].strip()] = part
    # the reference holds more sections than the figures gkd carries (other papers, the graphs they ran on)
    assert {"GLNN", "CPF", "G-CRD", "GraphAKD", "Vision"} <= set(sections)
    more = "More published sets for the CPF split"
    home = {"LSP": "G-CRD", "mdistiller/RLD": "Vision", "Projector": "Vision", "VQGraph": more, "GLNN paper": more,
            "MuGSI": "Graph level"}
    for figure in FIGURES:
        if figure.paper in OUTSIDE_REFERENCE:
            continue
        numbers = {float(x) for x in re.findall(r"\d+\.\d+", sections[home.get(figure.paper, figure.paper)])}
        assert figure.value in numbers, figure
        assert figure.std is None or figure.std in numbers, figure


def test_closest_absent_and_ambiguous():
    assert closest("cora", "dkd", "GLNN") is None
    assert closest("ogbn-products", "cpf", "CPF") is None
    with pytest.raises(ValueError, match="CPF-ind.*CPF-tra"):
        closest("citeseer", "cpf", "CPF")  # two CPF students
    with pytest.raises(ValueError, match="teacher= or student="):
        closest("ogbn-arxiv", "gcrd", "G-CRD")  # two G-CRD students


def test_records_are_frozen_and_the_table_renders():
    with pytest.raises(FrozenInstanceError):
        FIGURES[0].value = 1.0
    text = as_markdown(lookup("cora", "glnn", paper="GLNN"))
    assert text.splitlines()[0].startswith("| paper | table | dataset | setting | teacher | student | method |")
    expected = "| GLNN | repository README | cora | transductive | SAGE 2x128 | MLP 2x128 | glnn | 79.39 | accuracy |"
    assert expected in text
    assert len(text.splitlines()) == 2 + 3
