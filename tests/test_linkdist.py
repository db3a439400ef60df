"""LinkDist / CoLinkDist: every term by hand on a 4-node graph with fixed negatives, the split's
weights, the distiller's wiring (self loops, seeded negatives, sampled edges, labels of the
labelled nodes only), refusals, and a short run on Cora's largest component."""

import math

import formulas as ref
import pytest
import torch
from torch_geometric.data import Data

import gkd
from gkd.distill import Batch, get
from gkd.distill.linkdist import link_statistics, link_terms
from gkd.outputs import Outputs
from gkd.train.fitting import fit, seed_everything

# directed edges i -> j; node 0 is linked more than node 3, so the class weights differ
SRC = [0, 1, 0, 2, 1, 2, 3]
DST = [1, 0, 2, 0, 2, 3, 1]
NEGATIVES = [3, 2, 1, 1, 0, 0, 2]  # one node k_e per edge
Y = [0, 2, 1, 1]
LABELLED = [True, False, False, True]
Z = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [-1.0, 0.5, 1.0], [0.0, 0.3, 1.2]]
S = [[1.0, -0.5, 0.2], [0.0, 1.0, 0.5], [0.3, 0.3, -1.0], [-0.7, 0.9, 0.1]]
C = 3


def _t(rows):
    return torch.tensor(rows)


def _mse(pairs):
    """Mean over every entry of the rows' squared differences."""
    return sum((a - b) ** 2 for u, v in pairs for a, b in zip(u, v)) / (len(pairs) * len(pairs[0][0]))


def _wce(rows, targets, weight=None):
    """Weighted mean cross-entropy: sum w_y ce / sum w_y (plain mean without weights); 0 on no rows."""
    if not rows:
        return 0.0
    w = [1.0 if weight is None else weight[t] for t in targets]
    return sum(wi * ref.ce(r, t) for wi, r, t in zip(w, rows, targets)) / sum(w)


def _statistics(src, dst, y, labelled):
    n_c = [sum(1 for v in range(len(y)) if labelled[v] and y[v] == c) for c in range(C)]
    ends = src + dst
    m_c = [sum(1 for v in ends if labelled[v] and y[v] == c) for c in range(C)]
    ratio = [n / m if m else 0.0 for n, m in zip(n_c, m_c)]
    weight = [C * r / sum(ratio) for r in ratio]
    node_share = sum(labelled) / len(labelled)
    edge_share = sum(1 for v in ends if labelled[v]) / len(ends)
    return node_share, edge_share, weight


def _reference(z, s, src, dst, y, labelled, alpha, weight, negatives=None, beta_link=0.0, beta_node=0.0):
    """Every term of LinkDist (and, with negatives, CoLinkDist) written out edge by edge."""
    li = [e for e, i in enumerate(src) if labelled[i]]
    lj = [e for e, j in enumerate(dst) if labelled[j]]
    terms = {
        "ce": _wce([z[src[e]] for e in li], [y[src[e]] for e in li], weight)
        + _wce([z[dst[e]] for e in lj], [y[dst[e]] for e in lj], weight),
        "neighbour_ce": _wce([s[dst[e]] for e in li], [y[src[e]] for e in li], weight)
        + _wce([s[src[e]] for e in lj], [y[dst[e]] for e in lj], weight),
        "link": alpha * (_mse([(z[i], s[j]) for i, j in zip(src, dst)])
                         + _mse([(z[j], s[i]) for i, j in zip(src, dst)])),
    }
    if negatives is None:
        return terms
    p = [ref.softmax(r) for r in z]
    q = [ref.softmax(r) for r in s]
    edges = list(zip(src, dst, negatives))
    apart = (_mse([(p[i], q[k]) for i, _, k in edges]) + _mse([(p[j], q[k]) for _, j, k in edges])
             + _mse([(p[k], q[i]) for i, _, k in edges]) + _mse([(p[k], q[j]) for _, j, k in edges]))
    lk = [e for e, k in enumerate(negatives) if labelled[k]]
    terms["ce"] += 2.0 * _wce([z[negatives[e]] for e in lk], [y[negatives[e]] for e in lk])
    terms["contrast"] = -0.5 * alpha * apart
    terms["contrast_ce"] = (
        -beta_link * (_wce([s[negatives[e]] for e in li], [y[src[e]] for e in li], weight)
                      + _wce([s[negatives[e]] for e in lj], [y[dst[e]] for e in lj], weight))
        - beta_node * (_wce([s[src[e]] for e in lk], [y[negatives[e]] for e in lk])
                       + _wce([s[dst[e]] for e in lk], [y[negatives[e]] for e in lk])))
    return terms


def _terms(**options):
    return link_terms(_t(Z), _t(S), torch.tensor(SRC), torch.tensor(DST), torch.tensor(Y), torch.tensor(LABELLED),
                      **options)


def test_split_statistics_by_hand():
    node_share, edge_share, weight = link_statistics(torch.tensor(SRC), torch.tensor(DST), torch.tensor(Y),
                                                     torch.tensor(LABELLED), C)
    expected = _statistics(SRC, DST, Y, LABELLED)
    assert (node_share, edge_share) == pytest.approx(expected[:2])
    assert weight.tolist() == pytest.approx(expected[2])
    assert expected[2] == pytest.approx([1.0, 2.0, 0.0])  # node 0 has 4 labelled ends, node 3 two
    assert link_statistics(torch.tensor(SRC), torch.tensor(DST), torch.tensor(Y), torch.tensor(LABELLED), C,
                           balance=False)[2] is None


@pytest.mark.parametrize("balanced", [True, False])
def test_linkdist_terms_by_hand(balanced):
    weight = _statistics(SRC, DST, Y, LABELLED)[2] if balanced else None
    terms = _terms(alpha=0.7, weight=None if weight is None else torch.tensor(weight))
    expected = _reference(Z, S, SRC, DST, Y, LABELLED, 0.7, weight)
    assert set(terms) == {"ce", "neighbour_ce", "link"}
    for name, value in expected.items():
        assert value > 1e-3
        assert terms[name].item() == pytest.approx(value, rel=1e-5), name


def test_colinkdist_terms_by_hand_with_fixed_negatives():
    weight = _statistics(SRC, DST, Y, LABELLED)[2]
    terms = _terms(alpha=0.7, weight=torch.tensor(weight), negatives=torch.tensor(NEGATIVES), beta_link=0.3,
                   beta_node=0.2)
    expected = _reference(Z, S, SRC, DST, Y, LABELLED, 0.7, weight, NEGATIVES, 0.3, 0.2)
    assert set(terms) == {"ce", "neighbour_ce", "link", "contrast", "contrast_ce"}
    assert expected["contrast"] < 0 and expected["contrast_ce"] < 0
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5), name


def test_both_heads_learn_from_the_link_term():
    z, s = _t(Z).requires_grad_(), _t(S).requires_grad_()
    link_terms(z, s, torch.tensor(SRC), torch.tensor(DST), torch.tensor(Y), torch.tensor(LABELLED),
               alpha=1.0)["link"].backward()
    assert z.grad.abs().sum() > 0 and s.grad.abs().sum() > 0  # nothing detached


def test_no_edges_gives_zero_terms_with_a_graph():
    z = _t(Z).requires_grad_()
    empty = torch.zeros(0, dtype=torch.long)
    terms = link_terms(z, _t(S), empty, empty, torch.tensor(Y), torch.tensor(LABELLED), alpha=1.0,
                       negatives=empty)
    assert set(terms) == {"ce", "neighbour_ce", "link", "contrast", "contrast_ce"}
    assert all(v.item() == 0.0 for v in terms.values()) and terms["ce"].requires_grad


H = [[1.0, 0.0], [0.5, -1.0], [-0.5, 2.0], [0.0, 0.3]]
W = [[0.5, -1.0], [1.0, 0.2], [-0.3, 0.7]]
B = [0.1, 0.0, -0.2]


def _distiller(**options):
    """The method with a known inference head (as prepare would size it), dropout off."""
    distiller = get("linkdist", **options)
    distiller.head = torch.nn.Linear(2, C)
    with torch.no_grad():
        distiller.head.weight.copy_(_t(W))
        distiller.head.bias.copy_(_t(B))
    return distiller.eval()


def _head(h):
    return [[sum(w * x for w, x in zip(row, hv)) + b for row, b in zip(W, B)] for hv in h]


def _batch(y=Y, edges=(SRC, DST)):
    loops = torch.tensor([[3, 1], [3, 1]])  # self loops: no links, left out
    edge_index = torch.cat([torch.tensor(edges), loops], dim=1)
    return Batch(Data(edge_index=edge_index, num_nodes=4), torch.tensor(y), torch.tensor(LABELLED),
                 torch.ones(4, dtype=torch.bool))


@pytest.mark.parametrize("contrastive", [False, True])
def test_distiller_wires_head_weights_and_seeded_negatives(contrastive):
    node_share, edge_share, weight = _statistics(SRC, DST, Y, LABELLED)
    distiller = _distiller(contrastive=contrastive)
    torch.manual_seed(5)
    drawn = torch.randint(0, 4, (len(SRC),)).tolist() if contrastive else None
    torch.manual_seed(5)
    terms = distiller(Outputs(_t(Z), [_t(H)]), None, _batch())
    expected = _reference(Z, _head(H), SRC, DST, Y, LABELLED, 1.0 - edge_share, weight, drawn, node_share,
                          edge_share)
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5), name


def test_beta_splits_in_proportion_to_the_labelled_shares():
    distiller = get("linkdist", contrastive=True, beta=0.1)
    beta_link, beta_node = distiller.betas(0.05, 0.15)
    assert (beta_link, beta_node) == pytest.approx((0.025, 0.075))
    assert get("linkdist").betas(0.05, 0.15) == (0.05, 0.15)


def test_only_labelled_nodes_give_label_knowledge():
    distiller = _distiller(contrastive=True)
    torch.manual_seed(1)
    first = distiller(Outputs(_t(Z), [_t(H)]), None, _batch())
    other = [Y[v] if LABELLED[v] else (Y[v] + 1) % C for v in range(4)]  # unlabelled nodes' labels changed
    torch.manual_seed(1)
    second = distiller(Outputs(_t(Z), [_t(H)]), None, _batch(other))
    assert {k: v.item() for k, v in first.items()} == {k: v.item() for k, v in second.items()}


def test_max_edges_samples_edges_each_step():
    node_share, edge_share, weight = _statistics(SRC, DST, Y, LABELLED)  # from every edge
    distiller = _distiller(max_edges=4, alpha=0.5)
    torch.manual_seed(3)
    picked = torch.randint(0, len(SRC), (4,)).tolist()
    torch.manual_seed(3)
    terms = distiller(Outputs(_t(Z), [_t(H)]), None, _batch())
    src, dst = [SRC[e] for e in picked], [DST[e] for e in picked]
    expected = _reference(Z, _head(H), src, dst, Y, LABELLED, 0.5, weight)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5), name


def test_declarations():
    cls = type(get("linkdist"))
    assert (cls.name, cls.taught_by, cls.needs_teacher, cls.kinds, cls.family) == \
        ("linkdist", "self", False, ("node",), "output")
    assert not cls.logits_only and cls.student_model is None


@pytest.mark.parametrize("options,match", [
    ({"alpha": -0.1}, "alpha"),
    ({"beta": 0.1}, "contrastive=True"),
    ({"contrastive": True, "beta": -1.0}, "beta"),
    ({"dropout": 1.0}, "dropout"),
    ({"max_edges": 0}, "max_edges"),
    ({"contrastive": "yes"}, "contrastive"),
])
def test_bad_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        get("linkdist", **options)


def test_batches_it_cannot_read_are_refused():
    distiller = _distiller()
    sampled = _batch()
    sampled.data.n_id = torch.arange(4)
    with pytest.raises(ValueError, match="full-batch"):
        distiller(Outputs(_t(Z), [_t(H)]), None, sampled)
    binary = _batch()
    binary.objective = "binary"
    with pytest.raises(ValueError, match="multiclass"):
        distiller(Outputs(_t(Z), [_t(H)]), None, binary)
    with pytest.raises(gkd.errors.MismatchError, match="hidden"):
        distiller(Outputs(_t(Z), []), None, _batch())
    with pytest.raises(RuntimeError, match="prepare"):
        get("linkdist")(Outputs(_t(Z), [_t(H)]), None, _batch())


def test_prepare_refuses_graph_tasks_and_students_without_a_hidden_layer():
    torch.set_num_threads(1)
    nodes = gkd.data.load("synthetic", seed=0)
    flat = gkd.ModelSpec("mlp", hidden=8, num_layers=1).build(nodes)
    with pytest.raises(gkd.errors.MismatchError, match="hidden layer"):
        get("linkdist").prepare(task=nodes, student=flat, teacher=None, teacher_logits=None)
    graphs = gkd.data.load("synthetic-graphs", seed=0)
    student = gkd.ModelSpec("mlp", hidden=8).build(graphs)
    with pytest.raises(gkd.errors.MismatchError, match="graph task"):
        get("linkdist").prepare(task=graphs, student=student, teacher=None, teacher_logits=None)


def test_cora_lcc_links_teach_the_mlp(shared_root):
    """40 full-batch epochs on Cora's largest component (CPF split, seed 0), the authors' 3 x 256
    MLP with gkd's LayerNorm: the links lift the same MLP well above its labels-only run."""
    torch.set_num_threads(1)
    task = gkd.data.load("cora-lcc", root=shared_root, split="cpf", seed=0, normalize_features=True)
    spec = gkd.ModelSpec("mlp", hidden=256, num_layers=3, dropout=0.5, norm="layer")
    config = gkd.TrainConfig(epochs=40, lr=0.01, weight_decay=0.0, patience=40)
    scores = {}
    for method, options in (("none", {}), ("linkdist", {}), ("linkdist", {"contrastive": True})):
        seed_everything(0)
        result = fit(spec.build(task), task, config, distiller=get(method, **options), seed=0)
        scores[method, bool(options)] = result.scores["test"]
        history = result.history
        assert all(math.isfinite(v) for h in history for k, v in h.items() if isinstance(v, float))
        if method == "linkdist":
            assert result.distiller.head is not None
            assert history[-1]["neighbour_ce"] < 0.5 * history[0]["neighbour_ce"]
            assert history[-1]["ce"] < 0.5 * history[0]["ce"]
            if options:
                assert all(h["contrast"] < 0 for h in history)
    assert scores["none", False] < 0.65
    assert scores["linkdist", False] > scores["none", False] + 0.08
    assert scores["linkdist", True] > scores["none", False] + 0.08
