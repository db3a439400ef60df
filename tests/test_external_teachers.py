"""Bring your own model and teacher: PyG's models called by their parameter names through
``HookedModel`` (node and graph tasks, teacher and student), plain modules refused before
training, ``train_teacher`` on a user's module, and teachers used without training
(``teacher_from_model``, ``teacher_from_logits``)."""
import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Batch as PygBatch
from torch_geometric.nn.models import GCN, GIN, MLP, GraphSAGE

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.errors import InvalidDataError, MismatchError
from gkd.models import HookedModel
from gkd.models.wrapper import default_inputs

FAST = TrainConfig(epochs=5, patience=100, batch_size=64)


@pytest.fixture(scope="module")
def node_task() -> gkd.Task:
    return gkd.data.load("synthetic")


@pytest.fixture(scope="module")
def graph_task() -> gkd.Task:
    return gkd.data.load("synthetic-graphs")


def _pyg(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    if kind == "mlp-batch":
        return MLP([in_dim, 16, out_dim], norm="batch_norm")
    if kind == "mlp-layer":
        return MLP([in_dim, 16, out_dim], norm="layer_norm")
    cls = {"gcn": GCN, "sage": GraphSAGE, "gin": GIN}[kind]
    return cls(in_dim, 16, 2, out_dim)


KINDS = ["mlp-batch", "mlp-layer", "gcn", "sage", "gin"]
LAYER = {"mlp-batch": "lins.0", "mlp-layer": "lins.0", "gcn": "convs.0", "sage": "convs.0", "gin": "convs.0"}


class _Spy(nn.Module):
    """Records the keywords its forward is called with."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(32, 6)
        self.seen: dict = {}

    def forward(self, x, edge_index=None, edge_weight=None, batch=None):
        self.seen = {"edge_index": edge_index, "edge_weight": edge_weight, "batch": batch}
        return self.lin(x)


def test_the_call_is_built_from_the_parameter_names(node_task, graph_task):
    mlp = MLP([32, 16, 6], norm="layer_norm")
    assert set(default_inputs(mlp)(node_task.data)) == {"x"}  # no edge_index read as `batch`
    gcn = GCN(32, 16, 2, 6)
    assert set(default_inputs(gcn)(node_task.data)) == {"x", "edge_index"}
    batch = PygBatch.from_data_list(graph_task.indexed_graphs()[:3])
    args = default_inputs(GIN(4, 8, 2, 3))(batch)
    assert set(args) == {"x", "edge_index", "batch"} and args["batch"] is batch.batch
    spy = _Spy()
    data = node_task.data.clone()
    data.edge_weight = torch.rand(data.edge_index.size(1))
    HookedModel(spy)(data)
    assert spy.seen["edge_weight"] is data.edge_weight and spy.seen["batch"] is None
    # the override still wins: positional (tuple) or by name (dict)
    out = HookedModel(nn.Linear(32, 6), inputs=lambda d: (d.x,))(node_task.data)
    assert out.logits.shape == (2000, 6)
    out = HookedModel(gcn, inputs=lambda d: {"x": d.x, "edge_index": d.edge_index})(node_task.data)
    assert torch.allclose(out.logits, gcn(node_task.data.x, node_task.data.edge_index))


def test_forwards_named_otherwise_get_the_pyg_convention(node_task):
    class Renamed(nn.Module):
        def forward(self, h, adj, batch=None):
            self.seen = (h, adj, batch)
            return h[:, :6]

    class WholeBatch(nn.Module):
        def forward(self, data):
            return data.x[:, :6]

    class Starred(nn.Module):
        def forward(self, *args):
            self.seen = args
            return args[0][:, :6]

    data = node_task.data
    renamed, starred = Renamed(), Starred()
    HookedModel(renamed)(data)
    assert renamed.seen[0] is data.x and renamed.seen[1] is data.edge_index and renamed.seen[2] is None
    assert torch.equal(HookedModel(WholeBatch())(data).logits, data.x[:, :6])
    HookedModel(starred)(data)
    assert starred.seen[0] is data.x and starred.seen[1] is data.edge_index


def test_a_forward_that_needs_something_unknown_asks_for_inputs():
    class Odd(nn.Module):
        def forward(self, x, edge_index, mystery):
            return x

    with pytest.raises(TypeError, match=r"needs \['mystery'\].*inputs="):
        HookedModel(Odd())


@pytest.mark.parametrize("kind", KINDS)
def test_pyg_models_teach_and_learn_on_a_node_task(node_task, kind):
    torch.manual_seed(0)
    module = _pyg(kind, node_task.num_features, node_task.num_classes)
    wrapped = HookedModel(module, hidden=[LAYER[kind]])
    out = wrapped(node_task.data)
    assert out.logits.shape == (2000, 6) and out.hidden[0].size(0) == 2000
    teacher = gkd.train_teacher(node_task, wrapped, FAST, seed=0)
    assert teacher.scores["train"] > 1 / 6 and teacher.logits.shape == (2000, 6)
    torch.manual_seed(1)
    student = HookedModel(_pyg(kind, node_task.num_features, node_task.num_classes))
    result = gkd.train_student(node_task, teacher, student, "kd", FAST, seed=0)
    assert result.logits.shape == (2000, 6) and np.isfinite(result.scores["test"])


@pytest.mark.parametrize("kind", KINDS)
def test_pyg_models_teach_and_learn_on_a_graph_task(graph_task, kind):
    torch.manual_seed(0)
    wrapped = HookedModel(_pyg(kind, graph_task.num_features, graph_task.num_classes), hidden=[LAYER[kind]],
                          pool="mean")
    batch = PygBatch.from_data_list(graph_task.indexed_graphs()[:4])
    out = wrapped(batch)
    assert out.logits.shape == (4, 3) and out.pooled.shape == (4, 16)
    teacher = gkd.train_teacher(graph_task, wrapped, FAST, seed=0)
    assert teacher.logits.shape == (graph_task.num_items, 3)
    torch.manual_seed(1)
    student = HookedModel(_pyg(kind, graph_task.num_features, graph_task.num_classes), pool="add")
    result = gkd.train_student(graph_task, teacher, student, "kd", FAST, seed=0)
    assert result.logits.shape == (graph_task.num_items, 3) and np.isfinite(result.scores["test"])


def test_node_rows_on_a_graph_task_ask_for_pool(graph_task):
    with pytest.raises(MismatchError, match="pool='mean'"):
        gkd.train_teacher(graph_task, HookedModel(GCN(graph_task.num_features, 8, 2, 3)), FAST)
    with pytest.raises(MismatchError, match=r"shape \[1, 6\] for a batch of 2000 nodes.*drop pool="):
        gkd.train_teacher(gkd.data.load("synthetic"), HookedModel(GCN(32, 8, 2, 6), pool="mean"), FAST)
    with pytest.raises(ValueError, match="unknown pool"):
        HookedModel(GCN(4, 8, 2, 3), pool="median")


@pytest.mark.parametrize("module", [GraphSAGE(32, 8, 2, 6), MLP([32, 8, 6]), nn.Linear(32, 6)],
                         ids=["sage", "mlp", "linear"])
def test_a_plain_module_is_refused_before_training(node_task, module):
    teacher = gkd.train_teacher(node_task, ModelSpec("mlp", hidden=8), TrainConfig(epochs=2), use_cache=False)
    for call in (lambda: gkd.train_teacher(node_task, module, FAST),
                 lambda: gkd.train_student(node_task, teacher, module, "kd", FAST),
                 lambda: gkd.fit(module, node_task, FAST),
                 lambda: gkd.teacher_from_model(node_task, module)):
        with pytest.raises(MismatchError, match=r"^the (model|teacher) \w+ .*gkd\.models\.HookedModel") as err:
            call()
        assert "\n" not in str(err.value)
    assert module.training  # the probe left the module's mode as it was


def test_a_module_returning_outputs_is_a_model_without_wrapping(node_task):
    class Own(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(32, 6)

        def forward(self, data):
            return gkd.Outputs(self.lin(data.x))

    result = gkd.train_teacher(node_task, Own(), FAST)
    assert result.logits.shape == (2000, 6) and not result.from_cache


def test_train_teacher_on_a_module_uses_no_cache(node_task):
    torch.manual_seed(0)
    module = HookedModel(GCN(32, 8, 2, 6))
    start = {k: v.clone() for k, v in module.state_dict().items()}
    a = gkd.train_teacher(node_task, module, FAST, seed=0)
    module.load_state_dict(start)
    b = gkd.train_teacher(node_task, module, FAST, seed=0)
    assert not a.from_cache and not b.from_cache and torch.equal(a.logits, b.logits)
    with pytest.raises(TypeError, match="ModelSpec or a module"):
        gkd.train_teacher(node_task, "sage", FAST)


def test_teacher_from_model_gives_the_modules_own_eval_logits(node_task, tmp_path):
    torch.manual_seed(0)
    sage = GraphSAGE(32, 16, 2, 6, dropout=0.5)
    torch.save(sage.state_dict(), tmp_path / "sage.pt")
    fresh = GraphSAGE(32, 16, 2, 6, dropout=0.5)  # other weights until the checkpoint is loaded
    teacher = gkd.teacher_from_model(node_task, HookedModel(fresh, hidden=["convs.0"]), tmp_path / "sage.pt")
    sage.eval()
    with torch.no_grad():
        expected = sage(node_task.data.x, node_task.data.edge_index)
    assert torch.allclose(teacher.logits, expected, atol=1e-6)
    for name, index in node_task.split.items():
        assert teacher.scores[name] == pytest.approx(gkd.metrics.score(node_task, expected, index))
    assert teacher.best_epoch == -1 and teacher.train_seconds == 0.0 and not teacher.model.training
    # the wrapper's own state_dict loads too; no checkpoint keeps the weights the model has
    wrapped = HookedModel(GraphSAGE(32, 16, 2, 6))
    torch.save(HookedModel(sage).state_dict(), tmp_path / "wrapped.pt")
    assert torch.allclose(gkd.teacher_from_model(node_task, wrapped, tmp_path / "wrapped.pt").logits, expected,
                          atol=1e-6)
    assert torch.allclose(gkd.teacher_from_model(node_task, HookedModel(sage)).logits, expected, atol=1e-6)


def test_a_checkpoint_that_does_not_fit_is_refused(node_task, tmp_path):
    torch.save(GraphSAGE(32, 16, 2, 6).state_dict(), tmp_path / "sage.pt")
    with pytest.raises(MismatchError, match=r"sage\.pt: does not fit GraphSAGE"):
        gkd.teacher_from_model(node_task, HookedModel(GraphSAGE(32, 8, 2, 6)), tmp_path / "sage.pt")
    with pytest.raises(MismatchError, match=r"sage\.pt: does not fit GCN \(missing"):
        gkd.teacher_from_model(node_task, HookedModel(GCN(32, 16, 2, 6)), tmp_path / "sage.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(InvalidDataError, match="not a state_dict"):
        gkd.teacher_from_model(node_task, HookedModel(GCN(32, 16, 2, 6)), tmp_path / "tensor.pt")


class _Pickled:
    pass


def test_a_file_that_would_run_code_is_not_loaded(node_task, tmp_path):
    torch.save({"state_dict": _Pickled()}, tmp_path / "evil.pt")
    with pytest.raises(InvalidDataError, match="without running code"):
        gkd.teacher_from_model(node_task, HookedModel(GCN(32, 16, 2, 6)), tmp_path / "evil.pt")
    np.save(tmp_path / "evil.npy", np.array([_Pickled()], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidDataError, match="without running code"):
        gkd.teacher_from_logits(node_task, tmp_path / "evil.npy")


def test_a_logits_file_round_trips(node_task, tmp_path):
    logits = torch.randn(2000, 6)
    expected = {name: gkd.metrics.score(node_task, logits, index) for name, index in node_task.split.items()}
    np.savez(tmp_path / "out.npz", logits.numpy())  # GLNN's out.npz: one unnamed array
    np.savez(tmp_path / "named.npz", logits=logits.numpy(), node_ids=np.arange(2000))
    torch.save(logits, tmp_path / "logits.pt")
    torch.save({"logits": logits.double(), "index": torch.arange(2000)}, tmp_path / "dict.pt")
    np.save(tmp_path / "logits.npy", logits.numpy())
    for name in ("out.npz", "named.npz", "logits.pt", "dict.pt", "logits.npy"):
        teacher = gkd.teacher_from_logits(node_task, tmp_path / name)
        assert teacher.model is None and torch.allclose(teacher.logits, logits), name
        assert teacher.scores == pytest.approx(expected), name


def test_a_logits_file_of_the_wrong_shape_or_order_is_refused(node_task, tmp_path):
    np.savez(tmp_path / "short.npz", logits=np.zeros((1999, 6), dtype=np.float32))
    with pytest.raises(MismatchError, match=r"short\.npz: logits of shape \[1999, 6\], task 'synthetic' wants "
                                            r"\[2000, 6\]"):
        gkd.teacher_from_logits(node_task, tmp_path / "short.npz")
    torch.save(torch.zeros(2000, 7), tmp_path / "wide.pt")
    with pytest.raises(MismatchError, match=r"\[2000, 7\].*\[2000, 6\]"):
        gkd.teacher_from_logits(node_task, tmp_path / "wide.pt")
    ids = np.arange(2000)
    ids[[10, 11]] = [11, 10]
    np.savez(tmp_path / "swapped.npz", logits=np.zeros((2000, 6), dtype=np.float32), node_ids=ids)
    with pytest.raises(MismatchError, match=r"swapped\.npz: row 10 holds item 11"):
        gkd.teacher_from_logits(node_task, tmp_path / "swapped.npz")
    np.savez(tmp_path / "two.npz", a=np.zeros((2000, 6)), b=np.zeros((2000, 6)))
    with pytest.raises(InvalidDataError, match="none is named 'logits'"):
        gkd.teacher_from_logits(node_task, tmp_path / "two.npz")
    with pytest.raises(FileNotFoundError, match="no file"):
        gkd.teacher_from_logits(node_task, tmp_path / "absent.pt")


def test_a_logits_teacher_serves_output_methods_and_is_refused_by_the_others(node_task, tmp_path):
    trained = gkd.train_teacher(node_task, ModelSpec("sage", hidden=16), TrainConfig(epochs=20), use_cache=False)
    torch.save(trained.logits, tmp_path / "teacher.pt")
    teacher = gkd.teacher_from_logits(node_task, tmp_path / "teacher.pt")
    assert teacher.scores == pytest.approx(trained.scores)
    for method in ("kd", "glnn"):
        result = gkd.train_student(node_task, teacher, ModelSpec("mlp", hidden=16), method, FAST)
        assert np.isfinite(result.scores["test"]), method
    with pytest.raises(MismatchError, match="method 'fitnet' needs the teacher's hidden layers.*teacher_from_model"):
        gkd.train_student(node_task, teacher, ModelSpec("mlp", hidden=16), "fitnet", FAST)
    with pytest.raises(ValueError, match="'krd' needs the teacher model"):
        gkd.train_student(node_task, teacher, ModelSpec("mlp", hidden=16), "krd", FAST)


def test_a_saved_graphsage_teaches_an_mlp_better_than_it_learns_alone(node_task, tmp_path):
    """The user's route: train PyG's GraphSAGE their own way, save its state_dict, reload it as
    a teacher without retraining, distil it into an MLP with GLNN."""
    torch.manual_seed(0)
    data, train = node_task.data, node_task.split["train"]
    sage = GraphSAGE(32, 64, 2, 6)
    optimiser = torch.optim.Adam(sage.parameters(), lr=0.01)
    for _ in range(40):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(sage(data.x, data.edge_index)[train], data.y[train])
        loss.backward()
        optimiser.step()
    torch.save(sage.state_dict(), tmp_path / "sage.pt")

    teacher = gkd.teacher_from_model(node_task, HookedModel(GraphSAGE(32, 64, 2, 6)), tmp_path / "sage.pt")
    config = TrainConfig(epochs=60, patience=100)
    alone = gkd.train_student(node_task, teacher, ModelSpec("mlp", hidden=64), "none", config, seed=0)
    glnn = gkd.train_student(node_task, teacher, ModelSpec("mlp", hidden=64), "glnn", config, seed=0)
    assert teacher.scores["test"] > alone.scores["test"] + 0.05
    assert glnn.scores["test"] > alone.scores["test"] + 0.05


def test_teachers_brought_to_a_graph_task(graph_task, tmp_path):
    torch.manual_seed(0)
    gin = GIN(graph_task.num_features, 16, 2, 3)
    torch.save(gin.state_dict(), tmp_path / "gin.pt")
    wrapped = HookedModel(GIN(graph_task.num_features, 16, 2, 3), hidden=["convs.0"], pool="mean")
    teacher = gkd.teacher_from_model(graph_task, wrapped, tmp_path / "gin.pt")
    batch = PygBatch.from_data_list(graph_task.indexed_graphs()[:5])
    with torch.no_grad():
        first = gin.eval()(batch.x, batch.edge_index, batch=batch.batch)
    expected = torch.stack([first[batch.batch == i].mean(0) for i in range(5)])
    assert torch.allclose(teacher.logits[:5], expected, atol=1e-5)
    torch.save({"logits": teacher.logits, "index": torch.arange(graph_task.num_items)}, tmp_path / "gin-logits.pt")
    from_file = gkd.teacher_from_logits(graph_task, tmp_path / "gin-logits.pt")
    assert from_file.scores == pytest.approx(teacher.scores)
    result = gkd.train_student(graph_task, from_file, ModelSpec("gin", hidden=8), "kd", FAST)
    assert result.logits.shape == (graph_task.num_items, 3)
