"""python -m benchmarks.latency: inference latency and training-step time on the arxiv-shaped
synthetic graph (169,343 nodes, 2,332,486 directed edges, 128 features, 40 classes; ``--dataset
synthetic``: the 2,000-node task, for a quick check).

Measured, each as the median of ``--repeats`` warm runs:
- predicting ``--nodes`` unseen (test) nodes: the MLP student reads their features only; the
  3-layer SAGE teacher must, as in deployment, gather the nodes' 3-hop neighbourhood, build
  its adjacency and propagate over it;
- full-graph inference of both;
- the protocol teacher's SAGE stack (3x256 on the arxiv shape, mean aggregation, no dropout or
  norm) built three ways, gkd's CSR layers, PyG's default per-edge ``SAGEConv`` (``--skip-pyg``:
  not timed, it is slow) and, when ``dgl`` imports, DGL's ``SAGEConv``: one training step
  (forward, backward, Adam; median of ``--steps``) and full-graph inference of each.
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

from . import pages
from .protocols import protocol
from .timing import interleaved_medians, median_seconds

DATASETS = ("synthetic-arxiv", "synthetic")


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


class DglSAGE(nn.Module):
    """The same stack from DGL's ``SAGEConv`` (mean aggregation), over a DGL graph built once.
    A node without in-edges aggregates zeros, as in gkd and PyG: DGL's mean ``SAGEConv``, unlike
    its ``GraphConv`` and ``GATConv``, accepts zero in-degree, so no self-loops are added."""

    def __init__(self, graph, in_dim: int, hidden: int, out_dim: int, num_layers: int):
        super().__init__()
        from dgl.nn import SAGEConv as DglSAGEConv

        dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
        self.graph = graph
        self.convs = nn.ModuleList(DglSAGEConv(dims[i], dims[i + 1], "mean") for i in range(num_layers))

    def forward(self, data: Data) -> torch.Tensor:
        h = data.x
        for i, conv in enumerate(self.convs):
            h = conv(self.graph, h)
            if i < len(self.convs) - 1:
                h = torch.relu(h)
        return h


def dgl_graph(data: Data) -> tuple[object | None, str]:
    """``(graph, "")``: DGL's graph of ``data`` (messages flow ``edge_index[0] -> [1]``), built
    once, outside the timings; or ``(None, why)`` when DGL cannot be timed here."""
    try:
        import dgl
    except ImportError as exc:
        return None, f"dgl does not import ({exc}); see the README for the [dgl] extra"
    try:
        return dgl.graph((data.edge_index[0], data.edge_index[1]), num_nodes=data.num_nodes), ""
    except dgl.DGLError as exc:  # e.g. a CPU build of DGL given CUDA tensors
        return None, f"DGL cannot build the graph on {data.edge_index.device}: {str(exc).splitlines()[0]}"


def _train_step(model: nn.Module, data: Data, train: torch.Tensor, logits_of) -> callable:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step() -> None:
        model.train()
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(logits_of(model(data))[train], data.y[train])
        loss.backward()
        optimizer.step()

    return step


def _inference(model: nn.Module, data: Data) -> callable:
    def run() -> None:
        model.eval()
        with torch.no_grad():
            model(data)

    return run


def compare_sage(task, spec, data: Data, device: str, repeats: int, steps: int, skip_pyg: bool = False) -> dict:
    """The SAGE stack of ``spec`` (its depth and width; mean aggregation, no dropout or norm) as
    gkd's CSR layers, PyG's ``SAGEConv`` (unless ``skip_pyg``) and DGL's ``SAGEConv`` (when DGL is
    there): training step and full-graph inference of each (timed in turns, see
    ``interleaved_medians``), the ratios to gkd (above 1: gkd is faster), and why one was not timed."""
    train = task.split["train"].to(device)
    models = {"gkd_csr_sage": (gkd.models.SAGE(task.num_features, spec.hidden, task.num_classes,
                                               num_layers=spec.num_layers).to(device), lambda out: out.logits)}
    not_timed = {}
    if skip_pyg:
        not_timed["pyg"] = "--skip-pyg"
    else:
        models["pyg_sageconv"] = (PygSAGE(task.num_features, spec.hidden, task.num_classes, spec.num_layers).to(device),
                                  lambda out: out)
    graph, why = dgl_graph(data)
    if graph is None:
        not_timed["dgl"] = why
    else:
        models["dgl_sageconv"] = (DglSAGE(graph, task.num_features, spec.hidden, task.num_classes,
                                          spec.num_layers).to(device), lambda out: out)
    step_of = {name: _train_step(m, data, train, logits_of) for name, (m, logits_of) in models.items()}
    step = interleaved_medians(step_of, steps)
    full = interleaved_medians({name: _inference(m, data) for name, (m, _) in models.items()}, repeats)
    if "pyg_sageconv" in models:
        step["speedup"], full["pyg_speedup"] = (step["pyg_sageconv"] / step["gkd_csr_sage"],
                                                full["pyg_sageconv"] / full["gkd_csr_sage"])
    if "dgl_sageconv" in models:
        step["dgl_speedup"], full["dgl_speedup"] = (step["dgl_sageconv"] / step["gkd_csr_sage"],
                                                    full["dgl_sageconv"] / full["gkd_csr_sage"])
    return {"sage": f"SAGE {spec.num_layers}x{spec.hidden}", "train_step_s": step, "sage_full_graph_s": full,
            "not_timed": not_timed}


def measure(nodes: int, repeats: int, steps: int, seed: int = 0, device: str = "cpu",
            dataset: str = "synthetic-arxiv", skip_pyg: bool = False) -> dict:
    """Every timing of the module docstring on ``dataset``, as a JSON-ready dict."""
    torch.manual_seed(seed)
    task = gkd.data.load(dataset, seed=seed)
    data, proto = task.data.to(device), protocol(dataset)
    teacher = proto.teacher.build(task).to(device).eval()
    student = proto.students[0].build(task).to(device).eval()
    gen = torch.Generator().manual_seed(seed)
    test = task.split["test"]
    unseen = test[torch.randperm(len(test), generator=gen)[:nodes]].to(device)  # fewer on a small graph

    @torch.no_grad()
    def mlp_nodes() -> torch.Tensor:
        return student(Data(x=data.x[unseen], num_nodes=unseen.numel())).logits

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
    return {
        "dataset": dataset, "graph": {"nodes": data.num_nodes, "directed_edges": data.edge_index.size(1)},
        "teacher": proto.teacher.label(), "student": proto.students[0].label(),
        "teacher_params": count_parameters(teacher), "student_params": count_parameters(student),
        "unseen_nodes": unseen.numel(), "three_hop_nodes": hop_sizes[-1],
        "latency_s": {"student_mlp": mlp_lat, "teacher_sage_3hop": sage_lat, "speedup": sage_lat / mlp_lat},
        "full_graph_s": {"student_mlp": mlp_full, "teacher_sage": sage_full, "speedup": sage_full / mlp_full},
        **compare_sage(task, proto.teacher, data, device, repeats, steps, skip_pyg),
        "repeats": repeats, "steps": steps, "threads": torch.get_num_threads(), "device": str(device),
    }


def _seconds(value: float | None) -> str:
    """A timing for the table: seconds from 1 s up, milliseconds below; a dash when not timed."""
    if value is None:
        return "-"
    return f"{value:.2f} s" if value >= 1 else f"{value * 1e3:.1f} ms"


def _ratio_line(name: str, key: str, speedup: str, r: dict) -> str:
    """"gkd vs <name>: ..." (the other's time over gkd's), or why ``name`` was not timed."""
    step, full = r["train_step_s"], r["sage_full_graph_s"]
    if f"{key}_sageconv" not in step:
        return f"{name} not timed: {r['not_timed'].get(key, 'unknown reason')}"
    return (f"gkd vs {name}: training step {step[speedup]:.2f}x, full-graph inference "
            f"{full[f'{key}_speedup']:.2f}x ({name}'s time / gkd's; above 1: gkd is faster)")


def render(r: dict) -> str:
    """The results as Markdown tables and ratio lines."""
    lat, full = r["latency_s"], r["full_graph_s"]
    step, sage = r["train_step_s"], r["sage_full_graph_s"]
    return "\n".join([
        f"{r.get('dataset', 'synthetic-arxiv')}: {r['graph']['nodes']:,} nodes, {r['graph']['directed_edges']:,} "
        f"directed edges; teacher {r['teacher']}, student {r['student']}; medians of {r['repeats']} runs on "
        f"{r.get('device', 'cpu')}, {r['threads']} threads",
        "",
        "| measurement | gkd student | teacher | speed-up |",
        "|---|---|---|---|",
        f"| predict {r['unseen_nodes']:,} unseen nodes (teacher: 3-hop subgraph of {r['three_hop_nodes']:,} nodes) | "
        f"{lat['student_mlp'] * 1e3:.2f} ms | {lat['teacher_sage_3hop'] * 1e3:.1f} ms | {lat['speedup']:.0f}x |",
        f"| full-graph inference | {full['student_mlp'] * 1e3:.1f} ms | {full['teacher_sage'] * 1e3:.1f} ms "
        f"| {full['speedup']:.1f}x |",
        "",
        f"| {r['sage']} (mean) | gkd CSR | PyG SAGEConv | DGL SAGEConv |",
        "|---|---|---|---|",
        f"| training step (forward, backward, Adam) | {_seconds(step['gkd_csr_sage'])} | "
        f"{_seconds(step.get('pyg_sageconv'))} | {_seconds(step.get('dgl_sageconv'))} |",
        f"| full-graph inference | {_seconds(sage['gkd_csr_sage'])} | {_seconds(sage.get('pyg_sageconv'))} | "
        f"{_seconds(sage.get('dgl_sageconv'))} |",
        "",
        _ratio_line("PyG", "pyg", "speedup", r),
        _ratio_line("DGL", "dgl", "dgl_speedup", r),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic-arxiv", choices=DATASETS,
                        help="synthetic-arxiv (default) or synthetic (2,000 nodes: a quick check)")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per implementation")
    parser.add_argument("--out", default="results")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--skip-pyg", action="store_true",
                        help="do not time PyG's SAGEConv (its per-edge path is slow)")
    pages.add_page_option(parser)
    args = parser.parse_args(argv)
    measured = pages.provenance(args.device)
    result = measure(args.nodes, args.repeats, args.steps, device=args.device, dataset=args.dataset,
                     skip_pyg=args.skip_pyg)
    text = render(result)
    print(text)
    atomic_write_text(json.dumps(result, indent=2), Path(args.out) / "latency.json")
    pages.write_if_asked(args.page, "benchmarks.latency", argv, "Latency: student against teacher, gkd against PyG "
                         "and DGL", measured, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
