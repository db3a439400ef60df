"""python -m benchmarks.roofline: the full-graph SAGE step and inference of gkd and DGL, each in
a process of its own, beside the bound this machine's measured rates put on them.

The graph is the arxiv-shaped synthetic one (``--dataset``); the model the OGB protocol's
teacher stack, SAGE 3x256 with mean aggregation (no dropout, no norm), fp32. Each library runs in
its own worker process (``--worker``: no library's allocations or threads disturb another's), the
workers alternating for ``--rounds`` rounds; each reports the median of ``--steps`` timed training
steps (forward, backward, Adam) and full-graph inferences after one untimed of each. gkd runs as a
user's ``gkd.fit`` would (``gkd.train.memory.keep_freed_memory``); DGL as DGL runs by default.

The bound: every operation of the step at this machine's measured rate, summed: each GEMM of
the step's own shapes, each CSR product of the adjacency with the widths the layers carry, and
the elementwise passes (as copies of the same bytes), each timed on its own in the gkd worker.
The operations are those of gkd's SAGE, which aggregates on the narrower side of each weight,
reuses a first layer's product of the raw features and needs no gradient for them
(``sage_ops``).

Sampled: each worker also times one training batch of its library's own pipeline (sampler,
feature gather, layers over the sampled blocks; ``sampled_batch_seconds``).

    python -m benchmarks.roofline --page docs/results/roofline.md     (in an environment with DGL)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import pages

ROOT = Path(__file__).resolve().parents[1]
WORKERS = ("gkd", "dgl")
SAMPLED_FANOUTS, SAMPLED_SEEDS, SAMPLED_BATCHES = (10, 5, 5), 1024, 10


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sage_ops(n: int, dims: list[int]) -> dict[str, list[tuple]]:
    """The operations of one training step and one inference of gkd's SAGE stack (layer widths
    ``dims``) over n nodes: ``("gemm", rows, inner, cols)`` products, ``("spmm", cols)`` CSR
    products of the adjacency with an n x cols matrix (or its transpose), ``("bytes", b)``
    elementwise traffic. A layer h' = h W_s + (A h) W_n aggregates on the narrower side of W_n; a
    first layer that aggregates the raw features reuses the product computed once per run.
    Backward: each map's weight gradient (inner: n) and, past the first layer, its input
    gradient; each product's transpose where the layer's input needs a gradient or the product
    follows the map. Elementwise: bias add, the sum of the two terms and, between layers, ReLU,
    read and written (twice over in a training step: its backward). Adam's passes over the
    parameters are negligible here."""
    step: list[tuple] = []
    infer: list[tuple] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        first, maps_first = i == 0, d_out < d_in
        forward = [("gemm", n, d_in, d_out)] * 2
        product = [("spmm", d_out if maps_first else d_in)] if (maps_first or not first) else []
        elementwise = [("bytes", 2 * 4 * n * d_out * (2 + (i < len(dims) - 2)))]
        infer += forward + product + elementwise
        weight_grads = [("gemm", d_in, n, d_out)] * 2
        input_grads = [] if first else [("gemm", n, d_out, d_in)] * 2
        step += forward + product + weight_grads + input_grads + product + elementwise * 2
    return {"step": step, "inference": infer}


def _op_seconds(op: tuple, adjacency, repeats: int) -> float:
    """The median time of one operation on its own (fresh inputs, the same output buffer)."""
    import torch

    from gkd.graph.adjacency import spmm

    if op[0] == "gemm":
        _, rows, inner, cols = op
        a, b, out = torch.randn(rows, inner), torch.randn(inner, cols), torch.empty(rows, cols)
        return _median_time(lambda: torch.mm(a, b, out=out), repeats)
    if op[0] == "spmm":
        dense = torch.randn(adjacency.matrix.size(1), op[1])
        return _median_time(lambda: spmm(adjacency.matrix, dense), repeats)
    count = op[1] // 8  # float32 elements read and written
    a, out = torch.randn(count), torch.empty(count)
    return _median_time(lambda: out.copy_(a), repeats)


def bound(ops: list[tuple], adjacency, repeats: int = 3) -> float:
    """Every operation at this machine's measured rate: each distinct one timed on its own,
    the times summed over the list."""
    seconds = {op: _op_seconds(op, adjacency, repeats) for op in set(ops)}
    return sum(seconds[op] for op in ops)


def worker(library: str, dataset: str, steps: int, out: Path) -> int:
    """One library's step and inference times (and, for gkd, the machine's rates), written to ``out``."""
    import torch
    from torch import nn

    import gkd
    from gkd.graph.adjacency import adjacency

    from .latency import DglSAGE, dgl_graph
    from .protocols import protocol

    task = gkd.data.load(dataset, seed=0)
    data, spec = task.data, protocol(dataset).teacher
    torch.manual_seed(0)
    result: dict = {"library": library, "threads": torch.get_num_threads()}
    if library == "gkd":
        result["keeps_freed_memory"] = gkd.train.memory.keep_freed_memory()
        model: nn.Module = gkd.models.SAGE(task.num_features, spec.hidden, task.num_classes, num_layers=spec.num_layers)

        def logits_of(out): return out.logits
    else:
        graph, why = dgl_graph(data)
        if graph is None:
            out.write_text(json.dumps({"library": library, "not_timed": why}))
            return 0
        model = DglSAGE(graph, task.num_features, spec.hidden, task.num_classes, spec.num_layers)

        def logits_of(out): return out
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    train = task.split["train"]

    def step() -> None:
        model.train()
        optimiser.zero_grad()
        nn.functional.cross_entropy(logits_of(model(data))[train], data.y[train]).backward()
        optimiser.step()

    def infer() -> None:
        model.eval()
        with torch.no_grad():
            model(data)

    result["step_s"] = _median_time(step, steps)
    result["inference_s"] = _median_time(infer, steps)
    result["sampled_s"] = sampled_batch_seconds(library, task, spec, model if library == "gkd" else None)
    if library == "gkd":
        dims = [task.num_features] + [spec.hidden] * (spec.num_layers - 1) + [task.num_classes]
        ops = sage_ops(data.num_nodes, dims)
        result["bound_s"] = {phase: bound(ops[phase], adjacency(data, "mean")) for phase in ops}
    out.write_text(json.dumps(result))
    return 0


def sampled_batch_seconds(library: str, task, spec, gkd_model=None) -> float:
    """The median time of one sampled training batch over ``SAMPLED_BATCHES`` batches (after one
    untimed): ``SAMPLED_SEEDS`` seed nodes, fan-outs ``SAMPLED_FANOUTS`` (seeds' hop first; one
    per layer, the first ``spec.num_layers`` of them), the
    stack of ``spec`` (SAGE 3x256; gkd's own model when gkd is timed), each library's own pipeline:
    sampling, feature gather, forward, backward, Adam. gkd: its ``NeighbourSampler`` and its
    layers over the trimmed subgraph; DGL: its
    ``NeighborSampler`` (fan-outs listed input layer first), blocks and ``SAGEConv``."""
    import torch
    from torch import nn

    from gkd.graph.sampling import NeighbourSampler

    data = task.data
    fanouts = list(SAMPLED_FANOUTS[: spec.num_layers])
    train = task.split["train"]
    generator = torch.Generator().manual_seed(0)
    batches = [train[torch.randperm(train.numel(), generator=generator)[:SAMPLED_SEEDS]]
               for _ in range(SAMPLED_BATCHES + 1)]
    if library == "gkd":
        model = gkd_model
        sampler = NeighbourSampler(data, fanouts, SAMPLED_SEEDS, seed=0)

        def one(seeds):
            sub = sampler.subgraph(seeds, generator)
            sub.trim_to_layer = True
            out = model(sub).logits[: sub.batch_size]
            return nn.functional.cross_entropy(out, sub.y[: sub.batch_size])
    else:
        import dgl
        from dgl.nn import SAGEConv as DglSAGEConv

        graph = dgl.graph((data.edge_index[0], data.edge_index[1]), num_nodes=data.num_nodes)
        sampler = dgl.dataloading.NeighborSampler(list(reversed(fanouts)))
        dims = [task.num_features] + [spec.hidden] * (spec.num_layers - 1) + [task.num_classes]
        model = convs = nn.ModuleList(DglSAGEConv(dims[i], dims[i + 1], "mean") for i in range(len(dims) - 1))

        def one(seeds):
            input_nodes, output_nodes, blocks = sampler.sample_blocks(graph, seeds)
            h = data.x[input_nodes]
            for i, (conv, block) in enumerate(zip(convs, blocks)):
                h = conv(block, (h, h[: block.num_dst_nodes()]))
                h = torch.relu(h) if i < len(convs) - 1 else h
            return nn.functional.cross_entropy(h, data.y[output_nodes])
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    times = []
    for i, seeds in enumerate(batches):
        start = time.perf_counter()
        optimiser.zero_grad()
        one(seeds).backward()
        optimiser.step()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_worker(library: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "worker.json"
        command = [sys.executable, "-m", "benchmarks.roofline", "--worker", library, "--dataset", args.dataset,
                   "--steps", str(args.steps), "--out", str(out)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        subprocess.run(command, check=True, cwd=ROOT, env=env)
        return json.loads(out.read_text())


def render(dataset: str, runs: dict[str, list[dict]]) -> str:
    gkd_runs = runs["gkd"]
    lines = [f"{dataset}, SAGE 3x256 (mean), fp32, {gkd_runs[0]['threads']} threads; medians over "
             f"{len(gkd_runs)} rounds, each library in its own process, the libraries alternating; the bound: "
             f"every operation of gkd's step timed on its own, summed (median over the rounds)", "",
             "| | bound (s) | gkd (s) | gkd / bound | DGL (s) | DGL / bound | DGL / gkd |",
             "|---|---|---|---|---|---|---|"]
    for phase, key in (("step", "step_s"), ("inference", "inference_s")):
        limit = statistics.median(r["bound_s"][phase] for r in gkd_runs)
        ours = statistics.median(r[key] for r in gkd_runs)
        dgl = [r[key] for r in runs["dgl"] if key in r]
        theirs = statistics.median(dgl) if dgl else None
        cells = ["-", "-", "-"] if theirs is None else [f"{theirs:.3f}", f"{theirs / limit:.2f}x",
                                                         f"{theirs / ours:.2f}x"]
        lines.append(f"| {phase} | {limit:.3f} | {ours:.3f} | {ours / limit:.2f}x | " + " | ".join(cells) + " |")
    ours = statistics.median(r["sampled_s"] for r in gkd_runs)
    dgl = [r["sampled_s"] for r in runs["dgl"] if "sampled_s" in r]
    lines += ["", f"Sampled batch ({SAMPLED_SEEDS} seeds, fan-outs {','.join(map(str, SAMPLED_FANOUTS))}, each "
              f"library's own sampler and layers; median of {SAMPLED_BATCHES} batches, median over the rounds):", "",
              "| | gkd (s) | DGL (s) | DGL / gkd |", "|---|---|---|---|",
              f"| sampled batch | {ours:.4f} | "
              + (f"{statistics.median(dgl):.4f} | {statistics.median(dgl) / ours:.2f}x |" if dgl else "- | - |")]
    missing = [r["not_timed"] for r in runs["dgl"] if "not_timed" in r]
    if missing:
        lines += ["", f"DGL not timed: {missing[0]}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.roofline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic-arxiv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="timed steps (and inferences) per worker")
    parser.add_argument("--worker", choices=WORKERS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    pages.add_page_option(parser)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.dataset, args.steps, Path(args.out))
    if args.rounds < 1 or args.steps < 1:
        print("error: --rounds and --steps must be at least 1", file=sys.stderr)
        return 2
    measured = pages.provenance()
    runs: dict[str, list[dict]] = {name: [] for name in WORKERS}
    for _ in range(args.rounds):
        for library in WORKERS:
            runs[library].append(run_worker(library, args))
            print(json.dumps(runs[library][-1]), flush=True)
    text = render(args.dataset, runs)
    print(text)
    pages.write_if_asked(args.page, "benchmarks.roofline", argv, "The full-graph step against DGL and the roofline",
                         measured, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
