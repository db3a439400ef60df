"""Students that leave the lab: a saved bundle loads in a fresh process with no dataset and gives
identical logits; TorchScript and ONNX files, run by their own runtimes, agree with eager torch to
1e-5 on the test nodes; what cannot be saved or exported is refused by name."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gkd
from gkd import export
from gkd.errors import InvalidDataError, MismatchError, UnsupportedModuleError
from gkd.models import HookedModel

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = {"mlp": {}, "sage": {}, "gcn": {}, "nosmog": {"dim": 8, "walks_per_node": 2, "walk_length": 10}}


@pytest.fixture(scope="module")
def task():
    return gkd.data.load("synthetic")


@pytest.fixture(scope="module")
def teacher(task):
    return gkd.train_teacher(task, gkd.ModelSpec("sage", hidden=16), gkd.TrainConfig(epochs=5), use_cache=False)


@pytest.fixture(scope="module")
def students(task, teacher):
    out = {}
    for name, options in STUDENTS.items():
        spec = gkd.ModelSpec(name, hidden=16, options=tuple(options.items()))
        method = "nosmog" if name == "nosmog" else "glnn"
        extra = {"steps": 1} if name == "nosmog" else {}
        out[name] = gkd.train_student(task, teacher, spec, method, gkd.TrainConfig(epochs=3), **extra)
    return out


def test_saved_students_load_in_a_fresh_process_without_their_dataset_and_give_identical_logits(
        task, students, tmp_path):
    folders = {}
    for name, result in students.items():
        folders[name] = gkd.save(tmp_path / name, result, task, method_options={"lam": 0.0})
        info = json.loads((folders[name] / "gkd.json").read_text())
        assert info["model"]["name"] == name and info["task"]["num_features"] == task.num_features
        assert info["scores"]["test"] == result.scores["test"] and info["method"] == result.distiller.name
        assert info["method_options"] == {"lam": 0.0} and info["environment"]["torch"] == torch.__version__
    assert json.loads((folders["nosmog"] / "gkd.json").read_text())["inputs"] == ["x", "n_id"]
    inputs = {"x": task.data.x, "edge_index": task.data.edge_index, "n_id": torch.arange(task.num_items)}
    torch.save(inputs, tmp_path / "inputs.pt")
    code = ("import sys, torch, gkd\n"
            "inputs = torch.load(sys.argv[1], weights_only=True)\n"
            "out = {}\n"
            "for name in sys.argv[2:]:\n"
            "    saved = gkd.load(name)\n"
            "    out[name] = saved.predict(**{k: inputs[k] for k in saved.inputs})\n"
            "torch.save(out, 'out.pt')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GKD_DATA_ROOT": str(tmp_path / "no-data-here"),
           "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "inputs.pt"), *sorted(STUDENTS)],
                   check=True, env=env, cwd=tmp_path, timeout=300)
    loaded = torch.load(tmp_path / "out.pt", weights_only=True)
    for name, result in students.items():
        assert torch.equal(loaded[name], result.logits), name


@pytest.mark.parametrize("name", sorted(STUDENTS))
def test_torchscript_and_onnx_files_agree_with_eager_logits_on_the_test_nodes(name, task, students, tmp_path):
    pytest.importorskip("onnxruntime")
    model = students[name].model.eval()
    inputs = export.example_inputs(model, task.data.x, task.data.edge_index)
    eager = export.runtime.eager_logits(model, inputs)
    assert torch.allclose(eager, students[name].logits)  # the eager reference is the student's own output
    test = task.split["test"]
    script = export.to_torchscript(model, tmp_path / "student.pt", inputs)
    scripted = torch.jit.load(str(script))(*inputs)
    assert (scripted[test] - eager[test]).abs().max() <= 1e-5
    onnx_file = export.to_onnx(model, tmp_path / "student.onnx", inputs)
    ran = torch.from_numpy(export.runtime.run_onnx(export.runtime.onnx_session(onnx_file), inputs))
    assert (ran[test] - eager[test]).abs().max() <= 1e-5
    assert export.check_onnx(onnx_file, model, inputs) <= 1e-5
    # node and edge counts stay inputs, not constants: half the graph runs through the same files
    half = task.num_items // 2
    keep = (task.data.edge_index < half).all(0)
    small = export.example_inputs(model, task.data.x[:half], task.data.edge_index[:, keep])
    assert export.check_torchscript(script, model, small) <= 1e-5
    assert export.check_onnx(onnx_file, model, small) <= 1e-5


def test_a_cpf_student_round_trips_with_its_training_labels(task, teacher, tmp_path):
    result = gkd.train_student(task, teacher, gkd.ModelSpec("cpf", hidden=8, num_layers=2), "cpf",
                               gkd.TrainConfig(epochs=2))
    saved = gkd.load(gkd.save(tmp_path / "cpf", result, task))
    assert saved.inputs == ["x", "edge_index"]
    assert torch.equal(saved.predict(task.data.x, task.data.edge_index), result.logits)
    assert torch.equal(saved.model.labelled, result.model.labelled)
    with pytest.raises(UnsupportedModuleError, match="model 'cpf' does not export; exportable models: mlp"):
        export.to_onnx(result.model, tmp_path / "cpf.onnx", (task.data.x, task.data.edge_index))


def test_what_cannot_be_saved_or_loaded_is_refused_by_name(task, students, tmp_path):
    with pytest.raises(UnsupportedModuleError, match="only gkd's registered models can be saved"):
        gkd.save(tmp_path / "user", HookedModel(torch.nn.Linear(task.num_features, task.num_classes)), task)
    with pytest.raises(FileNotFoundError, match="gkd.json is missing"):
        gkd.load(tmp_path / "nothing")
    folder = gkd.save(tmp_path / "mlp", students["mlp"], task)
    meta = folder / "gkd.json"
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps({**info, "format": 99}))
    with pytest.raises(InvalidDataError, match="bundle format 99; this gkd reads format 1"):
        gkd.load(folder)
    meta.write_text(json.dumps({**info, "model": {**info["model"], "name": "mlpp"}}))
    with pytest.raises(MismatchError, match="names model 'mlpp', which this gkd does not have; models: "):
        gkd.load(folder)
    wider = {**info["model"], "arguments": {**info["model"]["arguments"], "hidden": 32}}
    meta.write_text(json.dumps({**info, "model": wider}))
    with pytest.raises(MismatchError, match="does not fit model 'mlp' as gkd.json describes it: .*size mismatch"):
        gkd.load(folder)
    meta.write_text("{not json")
    with pytest.raises(InvalidDataError, match="is not valid JSON"):
        gkd.load(folder)
    meta.write_text(json.dumps(info))
    (folder / "weights.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(InvalidDataError, match="cannot be read as safetensors"):
        gkd.load(folder)
    saved = gkd.load(gkd.save(tmp_path / "sage", students["sage"], task))
    with pytest.raises(ValueError, match="model 'sage' needs edge_index beside x: pass edge_index=..."):
        saved.predict(task.data.x)
    with pytest.raises(MismatchError, match=f"reads {task.num_features} features per row; x has shape"):
        saved.predict(task.data.x[:, :3], task.data.edge_index)


def test_saving_over_a_bundle_is_all_or_nothing(task, students, tmp_path, monkeypatch):
    folder = gkd.save(tmp_path / "student", students["mlp"], task)
    before = gkd.load(folder).predict(task.data.x)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    import safetensors.torch
    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        gkd.save(folder, students["sage"], task)
    monkeypatch.undo()
    assert torch.equal(gkd.load(folder).predict(task.data.x), before)  # the old bundle, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student"]  # no staging folder left behind
    gkd.save(folder, students["sage"], task)
    assert gkd.load(folder).info["model"]["name"] == "sage"


def test_the_export_benchmark_checks_every_file_and_times_the_three_runtimes(tmp_path):
    pytest.importorskip("onnxruntime")
    from benchmarks import export_latency

    assert export_latency.main(["--epochs", "1", "--rounds", "2", "--nodes", "100", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "export_latency.json").read_text())
    assert [r["student"] for r in rows] == list(export_latency.STUDENTS)
    assert all(r["onnx_max_diff"] <= 1e-5 and r["torchscript_max_diff"] <= 1e-5 for r in rows)
    assert all(r["eager_s"] > 0 and r["eager_new_s"] > 0 and r["onnxruntime_s"] > 0 and r["torchscript_s"] > 0
               for r in rows)
    assert {r["nodes"] for r in rows} == {100}


@pytest.mark.parametrize("norm", ["mean", "mean_loops", "sym", "sum"])
def test_the_edge_list_product_equals_the_csr_product(norm):
    from gkd.graph.adjacency import EdgeListAdjacency, SparseAdjacency

    edge_index = torch.tensor([[0, 1, 1, 2, 3, 3], [1, 0, 2, 1, 1, 0]])
    h = torch.arange(12, dtype=torch.float).view(4, 3)
    expected = SparseAdjacency(edge_index, 4, norm) @ h
    assert torch.allclose(EdgeListAdjacency(edge_index, norm) @ h, expected)
    if norm == "mean":  # node 1 hears 0, 2 and 3: their mean
        assert torch.allclose(expected[1], h[[0, 2, 3]].mean(0))


def test_a_model_keeps_the_arguments_it_was_built_with(task):
    model = gkd.models.build("sage", task, hidden=16, num_layers=3, dropout=0.5)
    assert model.init_arguments == {"in_dim": task.num_features, "hidden": 16, "out_dim": task.num_classes,
                                    "num_layers": 3, "dropout": 0.5, "norm": None, "level": "node",
                                    "categorical_sizes": None}
    assert type(model)(**model.init_arguments).state_dict().keys() == model.state_dict().keys()


def test_bag_of_words_features_export_through_the_dense_path(task, tmp_path):
    import dataclasses

    torch.manual_seed(0)
    words = (torch.rand(task.num_items, 300) < 0.02).float()  # 2% non-zero: the CSR first layer's case
    sparse_task = dataclasses.replace(task, data=task.data.clone(), info={})
    sparse_task.data.x = words
    model = gkd.models.build("mlp", sparse_task, hidden=16).eval()
    with torch.no_grad():
        model(sparse_task.data), model(sparse_task.data)  # seen twice: the layer now multiplies it as CSR
    assert model.layers[0]._rows is not None and model.layers[0]._rows.sparse
    inputs = export.example_inputs(model, words)
    other = ((torch.rand(task.num_items // 2, 300) < 0.02).float(),)
    script = export.to_torchscript(model, tmp_path / "bow.pt", inputs)
    assert export.check_torchscript(script, model, inputs) <= 1e-5
    assert export.check_torchscript(script, model, other) <= 1e-5
    pytest.importorskip("onnxruntime")
    onnx_file = export.to_onnx(model, tmp_path / "bow.onnx", inputs)
    assert export.check_onnx(onnx_file, model, inputs) <= 1e-5 and export.check_onnx(onnx_file, model, other) <= 1e-5
