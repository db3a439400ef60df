"""python -m benchmarks.dgl_parity: does a DGL teacher teach a gkd student as well as gkd's own?

Cora (CPF split), the GLNN protocol of ``benchmarks.protocols``: a 2-layer SAGE teacher (128
hidden, mean aggregation, dropout 0.8) built once with gkd's CSR layers and once from DGL's
``SAGEConv`` (wrapped by ``gkd.interop.dgl.dgl_model``), each distilled by GLNN into the same MLP
2x128. Needs the ``dgl`` extra (see README).
"""
from __future__ import annotations

import argparse
import statistics
import sys

import torch
import torch.nn.functional as F
from torch import nn

import gkd
from gkd.data import load
from gkd.interop.dgl import dgl_model
from gkd.train import seed_everything

from . import pages
from .protocols import protocol


class DGLSage(nn.Module):
    """GraphSAGE (mean) from DGL's SAGEConv, with the protocol teacher's depth, width and dropout."""

    def __init__(self, d_in: int, hidden: int, classes: int, layers: int, dropout: float):
        super().__init__()
        from dgl.nn import SAGEConv

        widths = [d_in] + [hidden] * (layers - 1) + [classes]
        self.layers = nn.ModuleList(SAGEConv(a, b, "mean") for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = dropout

    def forward(self, graph, x):
        for i, layer in enumerate(self.layers):
            x = layer(graph, F.dropout(x, self.dropout, self.training))
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dgl_parity", description=__doc__)
    parser.add_argument("--root", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    pages.add_page_option(parser)
    args = parser.parse_args(argv)
    measured = pages.provenance()
    proto = protocol("cora")
    spec, student = proto.teacher, proto.students[0]
    scores: dict[str, list[tuple[float, float]]] = {"gkd (PyG data, CSR SAGE)": [], "DGL SAGEConv": []}
    for seed in range(args.seeds):
        task = load("cora", args.root, split="cpf", seed=seed)
        seed_everything(seed)
        dgl_teacher = dgl_model(DGLSage(task.num_features, spec.hidden, task.num_classes, spec.num_layers,
                                        spec.dropout), hidden=["layers.0"])
        teachers = {
            "gkd (PyG data, CSR SAGE)": gkd.train_teacher(task, spec, proto.teacher_config, seed=seed, use_cache=False),
            "DGL SAGEConv": gkd.fit(dgl_teacher, task, proto.teacher_config, seed=seed),
        }
        for name, teacher in teachers.items():
            glnn = gkd.train_student(task, teacher, student, "glnn", proto.config_for(student), seed=seed)
            scores[name].append((teacher.scores["test"], glnn.scores["test"]))
            print(f"seed {seed} {name}: teacher {teacher.scores['test']:.4f}, GLNN MLP {glnn.scores['test']:.4f}",
                  flush=True)
    lines = ["| teacher | runs | teacher test (%) | GLNN MLP test (%) |", "|---|---|---|---|"]
    for name, pairs in scores.items():
        t = [100 * a for a, _ in pairs]
        s = [100 * b for _, b in pairs]
        lines.append(f"| {name} | {len(pairs)} | {statistics.mean(t):.2f} ± {_spread(t):.2f} | "
                     f"{statistics.mean(s):.2f} ± {_spread(s):.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    pages.write_if_asked(args.page, "benchmarks.dgl_parity", argv, "A DGL teacher against gkd's own (Cora)",
                         measured, table)
    return 0


def _spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


if __name__ == "__main__":
    sys.exit(main())
