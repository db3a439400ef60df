"""DKD and RLD against their formulas; RLD's relation to DKD and its edge cases."""

import formulas as ref
import pytest
import torch
from torch_geometric.data import Data

from gkd.distill import Batch, get
from gkd.outputs import Outputs


def _batch(y, epoch=100):
    n = len(y)
    return Batch(Data(num_nodes=n), torch.tensor(y), torch.ones(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool),
                 epoch=epoch)


Z_S = torch.tensor([[1.0, 0.5, -0.5, 0.0], [0.2, -1.0, 2.0, 0.3]])
Z_T = torch.tensor([[2.0, 1.0, -1.0, 0.5], [0.0, -2.0, 1.5, 1.0]])  # argmax = label on both rows
Y = [0, 2]


def test_dkd_matches_its_formula():
    T, alpha, beta = 4.0, 1.0, 8.0
    terms = get("dkd")(Outputs(Z_S), Outputs(Z_T), _batch(Y))
    tckd = nckd = 0.0
    for s, t, y in zip(Z_S.tolist(), Z_T.tolist(), Y):
        tckd += ref.bernoulli_kl(ref.softmax(t, T)[y], ref.softmax(s, T)[y]) / 2
        rest_s = [v for i, v in enumerate(s) if i != y]
        rest_t = [v for i, v in enumerate(t) if i != y]
        nckd += ref.kl(ref.softmax(rest_t, T), ref.softmax(rest_s, T)) / 2
    assert terms["tckd"].item() == pytest.approx(T * T * alpha * tckd, rel=1e-5)
    assert terms["nckd"].item() == pytest.approx(T * T * beta * nckd, rel=1e-5)


def test_dkd_warms_up_linearly():
    early = get("dkd", warmup_epochs=20)(Outputs(Z_S), Outputs(Z_T), _batch(Y, epoch=5))
    late = get("dkd", warmup_epochs=20)(Outputs(Z_S), Outputs(Z_T), _batch(Y, epoch=40))
    assert early["nckd"].item() == pytest.approx(0.25 * late["nckd"].item(), rel=1e-6)
    assert early["ce"].item() == pytest.approx(late["ce"].item())


def test_rld_equals_dkd_with_a_correct_teacher_and_no_ties():
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        z_s, z_t = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
        y = z_t.argmax(-1).tolist()  # the teacher is right on every row
        dkd = get("dkd")(Outputs(z_s), Outputs(z_t), _batch(y))
        rld = get("rld")(Outputs(z_s), Outputs(z_t), _batch(y))
        assert torch.equal(rld["scd"], dkd["tckd"]) and torch.equal(rld["mcd"], dkd["nckd"])


def test_rld_matches_its_formula_when_the_teacher_errs():
    T = 4.0
    z_t = torch.tensor([[0.5, 2.0, 1.0, -1.0]])  # label 0, teacher says 1; classes 1, 2, 0 are >= z_t[0]
    z_s = torch.tensor([[1.0, 0.0, 0.5, 0.2]])
    terms = get("rld")(Outputs(z_s), Outputs(z_t), _batch([0]))
    p_t, p_s = ref.softmax(z_t[0].tolist(), T), ref.softmax(z_s[0].tolist(), T)
    scd = T * T * ref.bernoulli_kl(max(p_t), p_s[0])
    assert terms["scd"].item() == pytest.approx(scd, rel=1e-5)
    # only class 3 survives the mask: one-class distributions on both sides, KL 0
    assert terms["mcd"].item() == pytest.approx(0.0, abs=1e-7)
    z_t2 = torch.tensor([[1.0, 2.0, -1.0, 0.0]])  # mask {0, 1}: classes 2 and 3 remain
    terms2 = get("rld")(Outputs(z_s), Outputs(z_t2), _batch([0]))
    mcd = T * T * 8.0 * ref.kl(ref.softmax([-1.0, 0.0], T), ref.softmax([0.5, 0.2], T))
    assert terms2["mcd"].item() == pytest.approx(mcd, rel=1e-5)


def test_rld_is_zero_not_nan_when_every_class_is_masked():
    z_t = torch.tensor([[1.0, 1.0, 1.0]])  # ties: every class ranks at or above the label
    terms = get("rld")(Outputs(torch.tensor([[3.0, -2.0, 0.0]])), Outputs(z_t), _batch([0]))
    assert terms["mcd"].item() == 0.0 and all(torch.isfinite(v) for v in terms.values())


def test_rld_never_edits_a_teacher_logit():
    z_t = torch.tensor([[0.5, 2.0, 1.0], [3.0, 0.0, 1.0]])
    before = z_t.clone()
    z_s = torch.randn(2, 3, requires_grad=True)
    total, _ = get("rld").loss(Outputs(z_s), Outputs(z_t), _batch([0, 0]))
    total.backward()
    assert torch.equal(z_t, before)


def test_unlabelled_visible_rows_take_the_teachers_class_as_target():
    z_s, z_t = Z_S, torch.tensor([[2.0, 1.0, -1.0, 0.5], [0.0, 3.0, 1.5, 1.0]])  # teacher: 0, 1
    partly = Batch(Data(num_nodes=2), torch.tensor([0, 2]), torch.tensor([True, False]),
                   torch.ones(2, dtype=torch.bool),
                   epoch=100)
    as_if_labelled = _batch([0, 1])  # row 1 labelled with the teacher's class instead
    for name in ("dkd", "rld"):
        got = get(name)(Outputs(z_s), Outputs(z_t), partly)
        ref = get(name)(Outputs(z_s), Outputs(z_t), as_if_labelled)
        for key in got:
            if key != "ce":
                assert torch.allclose(got[key], ref[key]), (name, key)
    only_labelled = get("dkd", unlabelled=False)(Outputs(z_s), Outputs(z_t), partly)
    row0 = get("dkd")(Outputs(z_s[:1]), Outputs(z_t[:1]), _batch([0]))
    assert torch.allclose(only_labelled["nckd"], row0["nckd"])
