"""Exported students beside eager torch: each student is saved as TorchScript and ONNX, each file
is run by its own runtime (``torch.jit.load``, onnxruntime) and checked against the eager logits
on the test nodes, and the inference latency for ``--nodes`` test nodes is measured side by side in
one run (calls taking turns within each round, medians over rounds).

    python -m benchmarks.export_latency --dataset cora --nodes 1000 --page docs/results/export.md

An MLP scores the 1,000 rows alone; a GNN student (``sage``, ``gcn``) runs on the whole graph and
its rows are read off (it needs their neighbourhoods). The students are trained for a few epochs
with GLNN from a SAGE teacher: latency does not depend on the weights, the agreement checks
use real ones.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

import gkd
from gkd import export
from gkd.export import runtime
from gkd.export.bundle import inputs_of
from gkd.io import atomic_write_text

from . import pages
from .timing import interleaved_medians

STUDENTS = ("mlp", "nosmog", "sage", "gcn")


def measure(dataset: str, root: str | None, nodes: int, rounds: int, epochs: int) -> list[dict]:
    task = gkd.data.load(dataset, root, split="cpf" if dataset != "synthetic" else "random", seed=0)
    teacher = gkd.train_teacher(task, gkd.ModelSpec("sage", hidden=128), gkd.TrainConfig(epochs=epochs), seed=0)
    rows = task.split["test"][:nodes]
    folder = Path(tempfile.mkdtemp(prefix="gkd-export-"))
    out = []
    for name in STUDENTS:
        options = (("dim", 16), ("walks_per_node", 3), ("walk_length", 20)) if name == "nosmog" else ()
        spec = gkd.ModelSpec(name, hidden=128, options=options)
        method = "nosmog" if name == "nosmog" else "glnn"
        student = gkd.train_student(task, teacher, spec, method, gkd.TrainConfig(epochs=epochs), seed=0).model.eval()
        whole = export.example_inputs(student, task.data.x, task.data.edge_index)
        script = export.to_torchscript(student, folder / f"{name}.pt", whole)
        onnx_file = export.to_onnx(student, folder / f"{name}.onnx", whole)
        # what one call scores: the rows alone for a row-independent model, else the whole graph
        needs = inputs_of(student)
        # what one call scores: the whole graph for a GNN, else the rows alone (with their ids for NOSMOG)
        if "edge_index" in needs:
            call = whole
        elif "n_id" in needs:
            call = (task.data.x[rows], rows)
        else:
            call = (task.data.x[rows],)
        eager = runtime.eager_logits(student, whole)
        scripted, session = torch.jit.load(str(script)), runtime.onnx_session(onnx_file)
        with torch.no_grad():
            script_diff = float((scripted(*whole)[rows] - eager[rows]).abs().max())
        onnx_diff = float((torch.from_numpy(runtime.run_onnx(session, whole))[rows] - eager[rows]).abs().max())

        def eager_call(call=call, student=student) -> None:
            runtime.eager_logits(student, call)

        # a served model gets a new feature tensor each request: gkd's first layer then multiplies
        # densely (its CSR form is made only for a tensor it has seen before); eight copies in turn
        fresh = [tuple(t.clone() for t in call) for _ in range(8)]

        def eager_new_call(fresh=fresh, student=student, turn=[0]) -> None:
            turn[0] += 1
            runtime.eager_logits(student, fresh[turn[0] % len(fresh)])

        def script_call(call=call, scripted=scripted) -> None:
            with torch.no_grad():
                scripted(*call)

        def onnx_call(call=call, session=session) -> None:
            runtime.run_onnx(session, call)

        seconds = interleaved_medians({"eager": eager_call, "eager_new": eager_new_call, "torchscript": script_call,
                          "onnxruntime": onnx_call}, rounds)
        out.append({"student": name, "nodes": len(rows), "graph_nodes": task.num_items,
                    "reads_graph": "edge_index" in needs,
                    "torchscript_max_diff": script_diff, "onnx_max_diff": onnx_diff, **{f"{k}_s": v
                                                                                        for k, v in seconds.items()}})
    return out


def render(rows: list[dict], dataset: str, rounds: int) -> str:
    lines = [f"Dataset {dataset}; {rows[0]['nodes']} test nodes per call; medians over {rounds} rounds, "
             f"the runtimes taking turns within each round; max |logit difference| from eager torch on "
             f"those nodes. Eager torch is timed twice: on the same input tensor every call (gkd's first layer "
             f"then multiplies bag-of-words features in the CSR form it made once) and on a new tensor each "
             f"call, as a served model gets them (dense). The ratio is the second over onnxruntime.", "",
             "| student | input per call | eager, same input | eager, new input | TorchScript | onnxruntime "
             "| eager new / onnxruntime | TorchScript diff | ONNX diff |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        given = f"whole graph ({r['graph_nodes']} nodes)" if r["reads_graph"] else f"{r['nodes']} rows"
        lines.append(f"| {r['student']} | {given} | {r['eager_s'] * 1e3:.3f} ms | {r['eager_new_s'] * 1e3:.3f} ms | "
                     f"{r['torchscript_s'] * 1e3:.3f} ms | {r['onnxruntime_s'] * 1e3:.3f} ms | "
                     f"{r['eager_new_s'] / r['onnxruntime_s']:.2f}x | "
                     f"{r['torchscript_max_diff']:.1e} | {r['onnx_max_diff']:.1e} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic", help="a node dataset (default: the embedded synthetic)")
    parser.add_argument("--root", default=None, help="data root (default: $GKD_DATA_ROOT or ./datasets)")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20, help="teacher and student training epochs")
    parser.add_argument("--out", default="results")
    pages.add_page_option(parser)
    args = parser.parse_args(argv)
    measured = pages.provenance("cpu")
    rows = measure(args.dataset, args.root, args.nodes, args.rounds, args.epochs)
    text = render(rows, args.dataset, args.rounds)
    print(text)
    atomic_write_text(json.dumps(rows, indent=2), Path(args.out) / "export_latency.json")
    pages.write_if_asked(args.page, "benchmarks.export_latency", argv,
                         "Exported students: TorchScript and ONNX beside eager torch", measured, text)
    worst = max(max(r["torchscript_max_diff"], r["onnx_max_diff"]) for r in rows)
    if worst > 1e-5:
        print(f"an exported file disagrees with eager torch by {worst:.1e} (> 1e-5)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
