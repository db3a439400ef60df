"""LSP: the loss by hand on a tiny graph for every kernel, zero for identical representations,
gradients to the student only, per-edge memory on a large graph, and end-to-end runs."""

import math
import subprocess
import sys
import textwrap

import formulas as ref
import pytest
import torch
from torch_geometric.data import Data

import gkd
from gkd.distill import Batch, get
from gkd.distill.lsp import lsp_loss
from gkd.outputs import Outputs

# edges j -> i as (source, target): 0 -> 1, 2 -> 1, 3 -> 1, 1 -> 2, 3 -> 2. Nodes 0 and 3 have no
# incoming edge, so the mean runs over nodes 1 and 2 only.
EDGES = torch.tensor([[0, 2, 3, 1, 3], [1, 1, 1, 2, 2]])
H_S = torch.tensor([[1.0, 0.0], [0.5, -1.0], [-0.5, 2.0], [0.0, 0.3]])
H_T = torch.tensor([[0.2, 1.0], [1.0, 1.0], [-1.0, 0.5], [1.5, -0.5]])
LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [-1.0, 0.5, 1.0], [0.0, 0.0, 1.0]])
Y = torch.tensor([0, 2, 1, 1])


def _score(a, b, kernel, s=1.0, c=1.0, d=2.0, sigma=1.0):
    dot = sum(x * y for x, y in zip(a, b))
    sq = sum((x - y) ** 2 for x, y in zip(a, b))
    return {"distance": -math.sqrt(sq) / s, "linear": dot, "poly": (dot + c) ** d,
            "rbf": math.exp(-sq / (2 * sigma**2))}[kernel]


def _reference(h_s, h_t, edges, kernel, **options):
    """Mean over nodes with incoming edges of KL(softmax of teacher scores || softmax of student
    scores), each over the node's incoming neighbours, written out in plain Python."""
    h_s, h_t, src, dst = h_s.tolist(), h_t.tolist(), edges[0].tolist(), edges[1].tolist()
    kls = []
    for i in sorted(set(dst)):
        sources = [j for j, t in zip(src, dst) if t == i]
        p = ref.softmax([_score(h_t[i], h_t[j], kernel, **options) for j in sources])
        q = ref.softmax([_score(h_s[i], h_s[j], kernel, **options) for j in sources])
        kls.append(ref.kl(p, q))
    return sum(kls) / len(kls)


def _batch(edges=EDGES, n=4):
    labelled = torch.tensor([True, True, False, False])[:n]
    return Batch(Data(edge_index=edges, num_nodes=n), Y[:n], labelled, torch.ones(n, dtype=torch.bool))


def _distiller(h_s, h_t, **options):
    lsp = get("lsp", **options)
    lsp.build(Outputs(LOGITS, [h_s]), Outputs(LOGITS, [h_t]))
    return lsp


@pytest.mark.parametrize("kernel,options", [("distance", {}), ("distance", {"s": 0.5}), ("linear", {}),
                                            ("poly", {"c": 0.5, "d": 3.0}), ("rbf", {"sigma": 0.7})])
def test_loss_matches_hand_formula(kernel, options):
    expected = _reference(H_S, H_T, EDGES, kernel, **options)
    assert expected > 1e-3  # the example is not degenerate
    assert lsp_loss(H_S, H_T, EDGES, kernel, **options).item() == pytest.approx(expected, rel=1e-5)


def test_distiller_terms_are_ce_plus_weighted_lsp():
    weight = 3.0
    terms = _distiller(H_S, H_T, weight=weight, kernel="linear")(Outputs(LOGITS, [H_S]), Outputs(LOGITS, [H_T]),
                                                                  _batch())
    ce = (ref.ce(LOGITS[0].tolist(), 0) + ref.ce(LOGITS[1].tolist(), 2)) / 2
    assert set(terms) == {"ce", "lsp"}
    assert terms["ce"].item() == pytest.approx(ce, rel=1e-6)
    assert terms["lsp"].item() == pytest.approx(weight * _reference(H_S, H_T, EDGES, "linear"), rel=1e-5)


def test_widths_may_differ():
    h_t = torch.cat([H_T, H_T[:, :1] * 2], dim=1)  # a 3-d teacher for a 2-d student
    lsp = _distiller(H_S, h_t)
    assert isinstance(lsp.bridges[0], torch.nn.Identity)
    terms = lsp(Outputs(LOGITS, [H_S]), Outputs(LOGITS, [h_t]), _batch())
    assert terms["lsp"].item() == pytest.approx(_reference(H_S, h_t, EDGES, "distance"), rel=1e-5)


@pytest.mark.parametrize("kernel", ["distance", "linear", "poly", "rbf"])
def test_zero_when_student_equals_teacher(kernel):
    assert lsp_loss(H_T.clone(), H_T, EDGES, kernel).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("kernel", ["distance", "linear", "poly", "rbf"])
def test_gradients_reach_the_student_only(kernel):
    edges = torch.cat([EDGES, torch.tensor([[1], [1]])], dim=1)  # a self loop: distance 0, still finite
    h_s, h_t = H_S.clone().requires_grad_(), H_T.clone().requires_grad_()
    lsp_loss(h_s, h_t, edges, kernel).backward()
    assert h_t.grad is None
    assert torch.isfinite(h_s.grad).all() and h_s.grad.abs().sum() > 0


def test_no_edges_gives_zero_with_a_graph():
    h_s = H_S.clone().requires_grad_()
    loss = lsp_loss(h_s, H_T, torch.zeros(2, 0, dtype=torch.long))
    assert loss.item() == 0.0 and loss.requires_grad


def test_graph_level_is_refused():
    with pytest.raises(ValueError, match="level"):
        get("lsp", level="graph")
    with pytest.raises(ValueError, match="kernel"):
        get("lsp", kernel="cosine")


def test_large_graph_memory_is_per_edge():
    """100,000 nodes and 1,000,000 edges: a dense N x N float matrix would need 40 GB; the
    per-edge loss (forward and backward) must stay far below that."""
    script = textwrap.dedent("""
        import resource, torch
        torch.set_num_threads(1)
        from gkd.distill.lsp import lsp_loss
        g = torch.Generator().manual_seed(0)
        n, e, d = 100_000, 1_000_000, 16
        edges = torch.randint(0, n, (2, e), generator=g)
        h_s = torch.randn(n, d, generator=g).requires_grad_()
        h_t = torch.randn(n, d, generator=g)
        loss = lsp_loss(h_s, h_t, edges)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(h_s.grad).all()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    peak_kib = int(done.stdout.strip().splitlines()[-1])
    assert peak_kib < 3 * 1024 * 1024, f"peak RSS {peak_kib / 1024**2:.2f} GiB"


@pytest.fixture(scope="module")
def synthetic():
    torch.set_num_threads(1)
    return gkd.data.load("synthetic", seed=0)


def test_train_student_end_to_end(synthetic):
    teacher = gkd.train_teacher(synthetic, gkd.ModelSpec("sage", hidden=32), gkd.TrainConfig(epochs=20))
    result = gkd.train_student(synthetic, teacher, gkd.ModelSpec("gcn", hidden=16), "lsp",
                               gkd.TrainConfig(epochs=5))
    assert 0.0 <= result.scores["test"] <= 1.0
    assert all(math.isfinite(h["lsp"]) and h["lsp"] >= 0 for h in result.history)


def test_spaced_pairs_deeper_teacher(synthetic):
    teacher = gkd.train_teacher(synthetic, gkd.ModelSpec("sage", hidden=32, num_layers=3),
                                gkd.TrainConfig(epochs=20))
    result = gkd.train_student(synthetic, teacher, gkd.ModelSpec("gcn", hidden=16, num_layers=2), "lsp",
                               gkd.TrainConfig(epochs=5), pairs="spaced", kernel="rbf")
    assert all(math.isfinite(h["lsp"]) for h in result.history)
    both = get("lsp", pairs=[(0, 0), (1, 0)])  # two teacher layers onto the student's one
    out = gkd.train_student(synthetic, teacher, gkd.ModelSpec("gcn", hidden=16), both, gkd.TrainConfig(epochs=3))
    assert all(math.isfinite(h["lsp"]) for h in out.history)


def test_the_teacher_side_is_reused_while_its_rows_and_edges_stand_and_redone_when_they_change(monkeypatch):
    from gkd.distill import lsp as lsp_module

    calls = []
    real = lsp_module.teacher_neighbourhoods
    monkeypatch.setattr(lsp_module, "teacher_neighbourhoods", lambda *a, **k: calls.append(1) or real(*a, **k))
    torch.manual_seed(0)
    edge_index = torch.tensor([[0, 1, 2, 3, 1], [1, 2, 3, 0, 0]])
    h_t = torch.randn(4, 5)
    distiller = get("lsp")
    distiller.pairs = [(-1, -1)]
    batch = Batch(Data(edge_index=edge_index, num_nodes=4), torch.zeros(4, dtype=torch.long),
                  torch.ones(4, dtype=torch.bool), torch.ones(4, dtype=torch.bool))
    h_s = torch.randn(4, 3, requires_grad=True)
    first = distiller.pair_loss(h_s, h_t.detach(), None, batch)
    again = distiller.pair_loss(h_s, h_t.detach(), None, batch)  # a new view of the same rows: reused
    assert len(calls) == 1
    assert again.item() == first.item() == lsp_loss(h_s, h_t, edge_index).item()
    h_t.mul_(2.0)  # changed in place: its version moves, the teacher side is redone
    calls.clear()
    changed = distiller.pair_loss(h_s, h_t.detach(), None, batch)
    assert len(calls) == 1 and changed.item() == pytest.approx(lsp_loss(h_s, h_t, edge_index).item())
