"""Graph tasks: the teacher's representations computed once equal a per-batch forward pass."""
import pytest
import torch
from torch_geometric.loader import DataLoader

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.train import teacher_outputs
from gkd.train.teacher_outputs import GraphTeacherOutputs


@pytest.fixture(scope="module")
def trained():
    task = gkd.data.load("synthetic-graphs", seed=0)
    teacher = gkd.train_teacher(task, ModelSpec("gin", hidden=16, num_layers=3, norm="batch"), TrainConfig(epochs=2))
    return task, teacher


def test_gathered_representations_equal_a_forward_pass_on_the_batch(trained):
    task, teacher = trained
    graphs = task.indexed_graphs()
    cache = GraphTeacherOutputs(teacher.model, graphs, torch.device("cpu"), batch_size=37)
    batch = next(iter(DataLoader([graphs[i] for i in [5, 3, 100, 7, 599]], batch_size=5)))
    direct = teacher.model.eval()(batch)
    got = cache.gather(batch.graph_id, teacher.logits[batch.graph_id])
    assert len(got.hidden) == 3 and got.hidden[0].shape == direct.hidden[0].shape
    for ours, theirs in zip(got.hidden, direct.hidden):
        assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(got.pooled, direct.pooled, atol=1e-5)
    assert GraphTeacherOutputs.fits(teacher.model, graphs, torch.device("cpu"))


def test_training_gives_the_same_student_with_and_without_the_cache(trained, monkeypatch):
    task, teacher = trained
    config = TrainConfig(epochs=2)
    cached = gkd.train_student(task, teacher, ModelSpec("gcn", hidden=8), "srd", config)
    monkeypatch.setattr(teacher_outputs, "MAX_BYTES", 0)  # too large: per-batch teacher passes
    per_batch = gkd.train_student(task, teacher, ModelSpec("gcn", hidden=8), "srd", config)
    assert torch.allclose(cached.logits, per_batch.logits, atol=1e-4)
