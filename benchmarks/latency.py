"""python -m benchmarks.latency: inference latency and training-step time on the arxiv-shaped
synthetic graph (169,343 nodes, 2,332,486 directed edges, 128 features, 40 classes).

Measured, each as the median of ``--repeats`` warm runs:
- predicting ``--nodes`` unseen (test) nodes: the MLP student reads their features only; the
  3-layer SAGE teacher must, as in deployment, gather the nodes' 3-hop neighbourhood, build
  its adjacency and propagate over it;
- full-graph inference of both;
- one SAGE training step (forward, backward, Adam) with gkd's CSR path against the same
  network built from PyG's default per-edge ``SAGEConv``.
Timings do not depend on the weights, so the models are not trained here.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import SAGEConv
from torch_geometric.utils import k_hop_subgraph

import gkd
from gkd.io import atomic_write_text
from gkd.models import count_parameters
from gkd.timing import median_seconds

from .protocols import protocol


class PygSAGE(nn.Module):
    """The reference: PyG's SAGEConv (mean aggregation, per-edge gather/scatter) stacked."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_layers: int):
        super().__init__()
        dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
        self.convs = nn.ModuleList(SAGEConv(dims[i], dims[i + 1], aggr="mean") for i in range(num_layers))

    def forward(self, data: Data) -> torch.Tensor:
        h = data.x
        for i, conv in enumerate(self.convs):
            h = conv(h, data.edge_index)
            if i < len(self.convs) - 1:
                h = torch.relu(h)
        return h


def _train_step(model: nn.Module, data: Data, train: torch.Tensor, logits_of) -> callable:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step() -> None:
        model.train()
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(logits_of(model(data))[train], data.y[train])
        loss.backward()
        optimizer.step()

    return step


def measure(nodes: int, repeats: int, steps: int, seed: int = 0, device: str = "cpu") -> dict:
    torch.manual_seed(seed)
    task = gkd.data.load("synthetic-arxiv", seed=seed)
    data, proto = task.data.to(device), protocol("synthetic-arxiv")
    teacher = proto.teacher.build(task).to(device).eval()
    student = proto.students[0].build(task).to(device).eval()
    gen = torch.Generator().manual_seed(seed)
    test = task.split["test"]
    unseen = test[torch.randperm(len(test), generator=gen)[:nodes]].to(device)

    @torch.no_grad()
    def mlp_nodes() -> torch.Tensor:
        return student(Data(x=data.x[unseen], num_nodes=nodes)).logits

    hop_sizes: list[int] = []

    @torch.no_grad()
    def sage_nodes() -> torch.Tensor:
        subset, edge_index, mapping, _ = k_hop_subgraph(unseen, 3, data.edge_index, relabel_nodes=True,
                                                        num_nodes=data.num_nodes)
        hop_sizes.append(int(subset.numel()))
        return teacher(Data(x=data.x[subset], edge_index=edge_index, num_nodes=subset.numel())).logits[mapping]

    with torch.no_grad():
        mlp_full = median_seconds(lambda: student(data), repeats)
        sage_full = median_seconds(lambda: teacher(data), repeats)
    mlp_lat = median_seconds(mlp_nodes, repeats)
    sage_lat = median_seconds(sage_nodes, repeats)

    spec = proto.teacher
    ours = gkd.models.SAGE(task.num_features, spec.hidden, task.num_classes, num_layers=spec.num_layers).to(device)
    pyg = PygSAGE(task.num_features, spec.hidden, task.num_classes, spec.num_layers).to(device)
    train = task.split["train"].to(device)
    ours_step = median_seconds(_train_step(ours, data, train, lambda out: out.logits), steps)
    pyg_step = median_seconds(_train_step(pyg, data, train, lambda out: out), steps)
    return {
        "graph": {"nodes": data.num_nodes, "directed_edges": data.edge_index.size(1)},
        "teacher": spec.label(), "student": proto.students[0].label(),
        "teacher_params": count_parameters(teacher), "student_params": count_parameters(student),
        "unseen_nodes": nodes, "three_hop_nodes": hop_sizes[-1],
        "latency_s": {"student_mlp": mlp_lat, "teacher_sage_3hop": sage_lat, "speedup": sage_lat / mlp_lat},
        "full_graph_s": {"student_mlp": mlp_full, "teacher_sage": sage_full, "speedup": sage_full / mlp_full},
        "train_step_s": {"gkd_csr_sage": ours_step, "pyg_sageconv": pyg_step, "speedup": pyg_step / ours_step},
        "repeats": repeats, "threads": torch.get_num_threads(), "device": str(device),
    }


def render(r: dict) -> str:
    lat, full, step = r["latency_s"], r["full_graph_s"], r["train_step_s"]
    return "\n".join([
        f"arxiv-shaped synthetic graph: {r['graph']['nodes']:,} nodes, {r['graph']['directed_edges']:,} directed edges; "
        f"teacher {r['teacher']}, student {r['student']}; medians of {r['repeats']} runs on {r.get('device', 'cpu')}, "
        f"{r['threads']} threads",
        "",
        "| measurement | gkd student / CSR | teacher / PyG | speed-up |",
        "|---|---|---|---|",
        f"| predict {r['unseen_nodes']:,} unseen nodes (teacher: 3-hop subgraph of {r['three_hop_nodes']:,} nodes) | "
        f"{lat['student_mlp'] * 1e3:.2f} ms | {lat['teacher_sage_3hop'] * 1e3:.1f} ms | {lat['speedup']:.0f}x |",
        f"| full-graph inference | {full['student_mlp'] * 1e3:.1f} ms | {full['teacher_sage'] * 1e3:.1f} ms | {full['speedup']:.1f}x |",
        f"| SAGE training step, CSR vs PyG SAGEConv | {step['gkd_csr_sage']:.2f} s | {step['pyg_sageconv']:.2f} s | "
        f"{step['speedup']:.2f}x |",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per implementation")
    parser.add_argument("--out", default="results")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    args = parser.parse_args(argv)
    result = measure(args.nodes, args.repeats, args.steps, device=args.device)
    text = render(result)
    print(text)
    atomic_write_text(json.dumps(result, indent=2), Path(args.out) / "latency.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
