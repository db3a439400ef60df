"""Who teaches whom: mutual cohorts (DML), several teachers (the confidence-weighted ensemble), and
the trainer's refusals of a method given the wrong kind of teacher."""
import math

import pytest
import torch

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.distill.base import Batch
from gkd.errors import MismatchError
from gkd.metrics import predictions_agree
from gkd.outputs import Outputs
from tests.formulas import ce, kl, softmax


def _batch(y, labelled, visible):
    return Batch(data=None, y=torch.tensor(y), labelled=torch.tensor(labelled), visible=torch.tensor(visible))


def test_dml_loss_by_hand_over_two_peers():
    z = [[1.0, 0.0, -1.0], [0.2, 0.4, 0.1]]
    p1 = [[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]]
    p2 = [[0.5, 0.5, 1.5], [0.0, 0.0, 3.0]]
    batch = _batch([0, 2], [True, False], [True, True])
    terms = gkd.distill.get("dml", kl_weight=2.0)(
        Outputs(torch.tensor(z)), [Outputs(torch.tensor(p1)), Outputs(torch.tensor(p2))], batch)
    assert terms["ce"].item() == pytest.approx(ce(z[0], 0), rel=1e-5)  # the labelled row alone
    # mean over rows of KL(peer || student), averaged over the two peers, times the weight
    by_peer = [sum(kl(softmax(p[i]), softmax(z[i])) for i in range(2)) / 2 for p in (p1, p2)]
    assert terms["mutual"].item() == pytest.approx(2.0 * sum(by_peer) / 2, rel=1e-5)


def test_ensemble_target_weighs_each_teacher_by_its_confidence_by_hand():
    t1, t2 = [3.0, 0.0, 0.0], [0.0, 0.2, 0.1]  # teacher 1 is sure, teacher 2 is not
    z = [0.5, 0.1, -0.3]

    def entropy(p):
        return -sum(v * math.log(v) for v in p)

    h = [entropy(softmax(t1)), entropy(softmax(t2))]
    w = softmax([-v for v in h])
    T = 2.0
    q = [w[0] * a + w[1] * b for a, b in zip(softmax(t1, T), softmax(t2, T))]
    method = gkd.distill.get("ensemble", temperature=T, ce_weight=0.5, kd_weight=1.0)
    terms = method(Outputs(torch.tensor([z])), [Outputs(torch.tensor([t1])), Outputs(torch.tensor([t2]))],
                   _batch([1], [True], [True]))
    assert w[0] > 0.5
    assert terms["kd"].item() == pytest.approx(T * T * kl(q, softmax(z, T)), rel=1e-5)
    assert terms["ce"].item() == pytest.approx(0.5 * ce(z, 1), rel=1e-5)
    mean = gkd.distill.get("ensemble", weighting="mean").weights([torch.tensor([t1]), torch.tensor([t2])])
    assert mean.tolist() == [[0.5], [0.5]]


def test_an_ensemble_of_one_teacher_is_hinton_kd():
    g = torch.Generator().manual_seed(0)
    z_s, z_t = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    labelled = torch.tensor([True, True] + [False] * 4)
    batch = Batch(None, torch.tensor([0, 1, 2, 3, 0, 1]), labelled, torch.ones(6).bool())
    one = gkd.distill.get("ensemble", temperature=3.0)(Outputs(z_s), [Outputs(z_t)], batch)
    kd = gkd.distill.get("kd", temperature=3.0)(Outputs(z_s), Outputs(z_t), batch)
    for key in ("ce", "kd"):
        assert one[key].item() == pytest.approx(kd[key].item(), rel=1e-6)


def test_every_method_says_who_teaches_it_and_combinations_do_not_mix_a_cohort_with_a_teacher():
    ways = {name: gkd.distill.registered(name).taught_by for name in gkd.distill.available()}
    assert set(ways.values()) <= set(gkd.distill.base.TAUGHT_BY)
    assert ways["glnn"] == "teacher" and ways["dml"] == "mutual" and ways["ensemble"] == "ensemble"
    assert ways["none"] == "labels"
    assert gkd.distill.get("glnn+none").taught_by == "teacher"
    with pytest.raises(MismatchError, match="taught in different ways"):
        gkd.distill.get("dml+glnn")


def test_a_cohort_restores_each_model_to_its_own_best_epoch():
    task = gkd.data.load("synthetic")
    config = TrainConfig(epochs=12, patience=100, lr=0.05)
    specs = [ModelSpec("mlp", hidden=8, dropout=0.5), ModelSpec("sage", hidden=8, dropout=0.5)]
    results = gkd.train_cohort(task, specs, "dml", config, seed=1)
    assert len(results) == 2
    history = results[0].history
    assert len(history) == 12 and {"0.ce", "0.mutual", "1.ce", "1.mutual"} <= set(history[0])
    for k, result in enumerate(results):
        valids = [h["valid_cohort"][k] for h in history]
        best = max(i for i, v in enumerate(valids) if v == max(valids))  # ties go to the later epoch
        assert result.best_epoch == best
        assert result.scores["valid"] == pytest.approx(valids[best])
    assert results[0].best_epoch != results[1].best_epoch or results[0].scores != results[1].scores
    # the first model starts from the weights train_student gives the same spec and seed
    gkd.train.seed_everything(1)
    alone = specs[0].build(task)
    gkd.train.seed_everything(1)
    cohort_first = specs[0].build(task)
    assert all(torch.equal(a, b) for a, b in zip(alone.parameters(), cohort_first.parameters()))


def test_a_sampled_cohort_learns_from_every_node_not_only_the_labelled_ones():
    task = gkd.data.load("synthetic")
    config = TrainConfig(epochs=1, patience=10, fanouts=(3, 3), batch_size=256)
    models = [ModelSpec("mlp", hidden=8).build(task), ModelSpec("sage", hidden=8).build(task)]
    seen = []
    method = gkd.distill.get("dml")
    original = method.forward

    def counting(student, teacher, batch):
        seen.append(int(batch.visible.sum()))
        return original(student, teacher, batch)

    method.forward = counting
    gkd.fit_cohort(models, task, config, distiller=method)
    assert sum(seen) == 2 * task.num_items  # every node is a seed once, for each of the two models


def test_the_trainer_refuses_a_method_given_the_wrong_kind_of_teacher():
    task = gkd.data.load("synthetic")
    config = TrainConfig(epochs=2)
    teacher = gkd.train_teacher(task, ModelSpec("sage", hidden=8), config, use_cache=False)
    mlp = ModelSpec("mlp", hidden=8)
    with pytest.raises(ValueError, match="gkd.train_cohort"):
        gkd.train_student(task, teacher, mlp, "dml", config)
    with pytest.raises(ValueError, match="train_cohort trains mutual methods \\(dml\\)"):
        gkd.train_cohort(task, [mlp, mlp], "glnn", config)
    with pytest.raises(ValueError, match="at least two FitResults, got 1"):
        gkd.train_student(task, teacher, mlp, "ensemble", config)
    with pytest.raises(ValueError, match="learns from one teacher, got 2.*ensemble"):
        gkd.train_student(task, [teacher, teacher], mlp, "glnn", config)
    with pytest.raises(ValueError, match="is taught by a teacher.*none"):
        gkd.train_student(task, None, mlp, "glnn", config)
    with pytest.raises(ValueError, match="at least two models"):
        gkd.fit_cohort([mlp.build(task)], task, config, distiller=gkd.distill.get("dml"))
    alone = gkd.train_student(task, None, mlp, "none", config)  # the student alone needs no teacher
    assert len(alone.history) == 2


def test_an_ensemble_of_three_teachers_moves_an_mlp_toward_them_on_cora(shared_root):
    task = gkd.data.load("cora-lcc", shared_root, split="cpf", seed=0)
    config = TrainConfig(epochs=60, patience=100, lr=0.01, weight_decay=5e-4)
    teachers = [gkd.train_teacher(task, ModelSpec(name, hidden=32, dropout=0.5), config, seed=0, use_cache=False)
                for name in ("sage", "gcn", "gat")]
    student = ModelSpec("mlp", hidden=64, dropout=0.5)
    ensemble = gkd.train_student(task, teachers, student, "ensemble", config, seed=0)
    alone = gkd.train_student(task, None, student, "none", config, seed=0)
    method = gkd.distill.get("ensemble")
    target = method.target([t.logits for t in teachers])  # the ensemble's distribution per node
    test = task.split["test"]
    agree_ensemble = predictions_agree(ensemble.logits[test], target[test])
    agree_alone = predictions_agree(alone.logits[test], target[test])
    assert agree_ensemble > agree_alone + 0.2  # measured: 0.89 against 0.61
    assert ensemble.scores["test"] > alone.scores["test"] + 0.15  # measured: 0.79 against 0.57
