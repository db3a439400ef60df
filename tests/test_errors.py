"""Every user-facing failure is a clear message."""
import pytest
import torch
from torch_geometric.data import Data

import gkd
from gkd.distill import Batch, get
from gkd.errors import DataNotFoundError, MismatchError, NonFiniteLossError, UnknownNameError
from gkd.outputs import Outputs


def test_unknown_method_lists_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        get("glnnn")
    assert "glnn" in str(err.value) and "kd" in str(err.value) and "none" in str(err.value)


def test_unknown_option_lists_the_methods_options():
    with pytest.raises(TypeError, match="temperature"):
        get("kd", temprature=2.0)


def test_unknown_dataset_lists_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        gkd.data.load("coraa")
    assert "cora" in str(err.value) and "ogbn-arxiv" in str(err.value)


def test_unknown_model_lists_valid_ones():
    task = gkd.data.load("synthetic")
    with pytest.raises(UnknownNameError, match="sage"):
        gkd.models.build("sagee", task)


def test_missing_planetoid_names_the_files(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        gkd.data.load("pubmed", root=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "planetoid" / "PubMed" / "raw" / "ind.pubmed.x") in message
    assert "ind.pubmed.graph" in message and "--download" in message


def test_class_count_mismatch_is_reported():
    everything = torch.ones(2, dtype=torch.bool)
    batch = Batch(Data(num_nodes=2), torch.tensor([0, 1]), everything, everything)
    with pytest.raises(MismatchError, match="teacher predicts 3 classes, the student 4"):
        get("kd").loss(Outputs(torch.zeros(2, 4)), Outputs(torch.zeros(2, 3)), batch)


def test_mismatch_between_teacher_and_student_models_on_a_task():
    task = gkd.data.load("synthetic")  # 6 classes
    teacher = gkd.train_teacher(task, gkd.ModelSpec("mlp", hidden=8), gkd.TrainConfig(epochs=2), use_cache=False)
    three_class_student = gkd.models.MLP(task.num_features, 8, 3)
    with pytest.raises(MismatchError, match="teacher predicts 6 classes, the student 3"):
        gkd.train_student(task, teacher, three_class_student, "glnn", gkd.TrainConfig(epochs=1))


def test_nan_loss_names_the_term():
    everything = torch.ones(2, dtype=torch.bool)
    batch = Batch(Data(num_nodes=2), torch.tensor([0, 1]), everything, everything)
    teacher = Outputs(torch.tensor([[float("nan"), 0.0], [0.0, 1.0]]))  # a broken teacher
    with pytest.raises(NonFiniteLossError, match="'kd' of method 'kd' is nan"):
        get("kd").loss(Outputs(torch.zeros(2, 2)), teacher, batch)
