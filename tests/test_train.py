"""The trainer: best-validation selection, the teacher cache, and distillation that works."""
import dataclasses
import math
import warnings

import pytest
import torch

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.metrics import predictions_agree
from gkd.train.cache import teacher_key
from gkd.train.fitting import fit


def test_fit_returns_the_best_validation_epoch():
    task = gkd.data.load("synthetic")
    result = gkd.fit(ModelSpec("mlp", hidden=16).build(task), task, TrainConfig(epochs=15, patience=100))
    valids = [h["valid"] for h in result.history]
    assert result.scores["valid"] == pytest.approx(max(valids))
    assert valids[result.best_epoch] == max(valids)
    assert len(result.history) == 15


def test_same_seed_same_result():
    task = gkd.data.load("synthetic")
    config = TrainConfig(epochs=10)
    a = gkd.train_teacher(task, ModelSpec("sage", hidden=16, dropout=0.5), config, seed=3, use_cache=False)
    b = gkd.train_teacher(task, ModelSpec("sage", hidden=16, dropout=0.5), config, seed=3, use_cache=False)
    assert torch.equal(a.logits, b.logits)
    s1 = gkd.train_student(task, a, ModelSpec("mlp", hidden=16, dropout=0.5), "kd", config, seed=3)
    s2 = gkd.train_student(task, a, ModelSpec("mlp", hidden=16, dropout=0.5), "kd", config, seed=3)
    assert torch.equal(s1.logits, s2.logits)


def test_early_stopping_respects_patience():
    task = gkd.data.load("synthetic")
    result = gkd.fit(ModelSpec("mlp", hidden=16).build(task), task, TrainConfig(epochs=200, patience=3))
    assert len(result.history) <= result.best_epoch + 4


def test_teacher_cache_is_reused_and_keyed_by_the_data():
    task = gkd.data.load("synthetic", seed=0)
    spec, config = ModelSpec("sage", hidden=16), TrainConfig(epochs=5)
    first = gkd.train_teacher(task, spec, config, seed=0)
    second = gkd.train_teacher(task, spec, config, seed=0)
    assert not first.from_cache and second.from_cache
    assert torch.equal(first.logits, second.logits)
    assert torch.allclose(gkd.predict(second.model, task), second.logits, atol=1e-5)
    other = gkd.train_teacher(gkd.data.load("synthetic", seed=1), spec, config, seed=0)
    assert not other.from_cache


def test_teacher_cache_that_no_longer_fits_the_data_is_retrained():
    task = gkd.data.load("synthetic", seed=5)
    spec, config = ModelSpec("mlp", hidden=8), TrainConfig(epochs=3)
    gkd.train_teacher(task, spec, config, seed=0)
    path = gkd.train.cache.teacher_path(task, spec, config, 0)
    blob = torch.load(path, weights_only=True)
    blob["logits"] = torch.roll(blob["logits"], 1, dims=0)  # as if the node order had changed
    torch.save(blob, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = gkd.train_teacher(task, spec, config, seed=0)
    assert not again.from_cache
    assert any("does not match the data" in str(w.message) for w in caught)


def test_glnn_moves_an_mlp_toward_its_sage_teacher_on_cora(shared_root):
    task = gkd.data.load("cora", root=shared_root, split="cpf", seed=0)
    teacher = gkd.train_teacher(task, ModelSpec("sage", dropout=0.3), TrainConfig(epochs=200, patience=50))
    student_config = TrainConfig(epochs=200, weight_decay=5e-3, patience=50)
    alone = gkd.fit(ModelSpec("mlp", dropout=0.6).build(task), task, student_config)
    glnn = gkd.train_student(task, teacher, ModelSpec("mlp", dropout=0.6).build(task), "glnn", student_config)
    test = task.split["test"]
    agree_alone = predictions_agree(alone.logits[test], teacher.logits[test])
    agree_glnn = predictions_agree(glnn.logits[test], teacher.logits[test])
    assert agree_glnn > agree_alone + 0.15
    assert glnn.scores["test"] > alone.scores["test"] + 0.10
    kl = lambda s: torch.nn.functional.kl_div(s.log_softmax(-1), teacher.logits.softmax(-1), reduction="batchmean")  # noqa: E731
    assert kl(glnn.logits) < kl(alone.logits)


def test_graph_task_trains_in_mini_batches_and_distils():
    task = gkd.data.load("synthetic-graphs")
    config = TrainConfig(epochs=3, batch_size=32)
    teacher = gkd.train_teacher(task, ModelSpec("gin", hidden=16), config)
    student = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=16).build(task), "kd", config)
    assert teacher.logits.shape == student.logits.shape == (600, 3)
    first = student.history[0]
    assert set(first) == {"epoch", "valid", "epoch_seconds", "valid_seconds", "ce", "kd"}
    assert first["epoch_seconds"] > 0 and first["valid_seconds"] > 0
    # the learning curve's loss is the method's terms alone, never the timings
    from benchmarks.single import learning_curve

    assert learning_curve(student.history)[0] == [0, first["ce"] + first["kd"], first["valid"]]


def test_cosine_schedule_takes_the_learning_rate_to_zero_over_the_budget():
    from gkd import fit
    from gkd.data import load

    task = load("synthetic")
    model = ModelSpec("mlp", hidden=8).build(task)
    seen = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy
    try:
        fit(model, task, TrainConfig(epochs=4, lr=0.1, patience=10, lr_schedule="cosine"))
    finally:
        torch.optim.Adam.step = original
    cosine = [0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert seen == pytest.approx(cosine) and cosine[2] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="cosine"):
        fit(model, task, TrainConfig(epochs=1, lr_schedule="step"))


def test_bf16_steps_train_under_autocast_and_return_fp32_logits():
    task = gkd.data.load("synthetic", seed=0)
    fp32 = TrainConfig(epochs=30, lr=0.01)
    bf16 = TrainConfig(epochs=30, lr=0.01, precision="bf16")
    for spec in (ModelSpec("sage", hidden=16), ModelSpec("mlp", hidden=16)):
        a = gkd.train_teacher(task, spec, fp32, seed=0, use_cache=False)
        b = gkd.train_teacher(task, spec, bf16, seed=0, use_cache=False)
        assert b.logits.dtype == torch.float32
        assert not torch.equal(a.logits, b.logits)  # the steps ran in another precision
        assert abs(a.scores["test"] - b.scores["test"]) < 0.1 and b.scores["test"] > 0.5
    with pytest.raises(ValueError, match="unknown precision 'fp16'; valid precisions: fp32, bf16"):
        gkd.train_teacher(task, ModelSpec("mlp"), TrainConfig(epochs=1, precision="fp16"), use_cache=False)


def test_selection_last_keeps_the_final_weights_and_best_restores_the_best_epoch():
    task = gkd.data.load("synthetic", seed=0)
    config = TrainConfig(epochs=12, lr=0.05, patience=100)
    runs = {}
    for selection in ("best", "last"):
        torch.manual_seed(0)
        model = ModelSpec("mlp", hidden=16).build(task)
        runs[selection] = fit(model, task, dataclasses.replace(config, selection=selection), seed=0)
    best, last = runs["best"], runs["last"]
    valid = [h["valid"] for h in best.history]
    # the same training either way; only the returned epoch differs
    assert valid == [h["valid"] for h in last.history] and len(valid) == 12
    assert last.best_epoch == 11 and last.scores["valid"] == pytest.approx(valid[-1])
    top = max(valid)
    assert best.best_epoch == max(e for e, v in enumerate(valid) if v == top)
    assert best.scores["valid"] == pytest.approx(top)
    with pytest.raises(ValueError, match="unknown selection 'first'; valid selections: best, last"):
        fit(ModelSpec("mlp").build(task), task, TrainConfig(epochs=1, selection="first"))


def test_teacher_cache_key_tells_the_selection_rules_apart():
    task = gkd.data.load("synthetic", seed=0)
    spec = ModelSpec("mlp", hidden=8)
    best, last = TrainConfig(epochs=3), TrainConfig(epochs=3, selection="last")
    assert teacher_key(task, spec, best, 0) != teacher_key(task, spec, last, 0)
