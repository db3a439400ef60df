"""Hits@K and MRR against hand values and against OGB's link Evaluator."""
import os

import pytest
import torch

from gkd.metrics.links import hits_at, link_metric, link_scores, mrr, reciprocal_ranks

os.environ.setdefault("OUTDATED_IGNORE", "1")


def test_hits_at_k_by_hand():
    positive = torch.tensor([0.9, 0.5, 0.3, 0.75])
    negative = torch.tensor([0.8, 0.4, 0.6, 0.1, 0.2])
    assert hits_at(positive, negative, 1) == 0.25  # only 0.9 beats the best negative, 0.8
    assert hits_at(positive, negative, 2) == 0.5  # 0.9 and 0.75 beat 0.6
    assert hits_at(positive, negative, 3) == 0.75  # 0.5 beats the third, 0.4
    assert hits_at(positive, negative, 6) == 1.0  # fewer negatives than K: OGB counts every positive


def test_reciprocal_rank_counts_ties_half():
    positive = torch.tensor([0.5, 0.9])
    negative = torch.tensor([[0.7, 0.5, 0.1], [0.1, 0.2, 0.3]])
    # the first positive: one negative above, one tied -> rank 1 + (1 + 2) / 2 = 2.5
    assert torch.allclose(reciprocal_ranks(positive, negative), torch.tensor([1 / 2.5, 1.0], dtype=torch.double))
    # one shared pool ranks each positive against every negative
    pool = torch.tensor([0.7, 0.5, 0.1])
    assert mrr(torch.tensor([0.5]), pool) == pytest.approx(1 / 2.5)


def test_link_metric_reads_its_name():
    scores, labels = torch.tensor([0.9, 0.2, 0.8, 0.1]), torch.tensor([1.0, 1.0, 0.0, 0.0])
    assert link_metric("hits@1", scores, labels) == 0.5
    assert link_metric("mrr", scores, labels) == pytest.approx((1 + 1 / 2) / 2)  # ranks 1 and 2
    with pytest.raises(ValueError, match="unknown link metric 'auc'; valid: hits@K"):
        link_metric("auc", scores, labels)


@pytest.mark.parametrize("name,k", [("ogbl-collab", 50), ("ogbl-ppa", 100), ("ogbl-ddi", 20)])
def test_hits_agree_with_ogbs_evaluator(name, k):
    from ogb.linkproppred import Evaluator

    gen = torch.Generator().manual_seed(k)
    positive, negative = torch.rand(300, generator=gen) + 0.3, torch.rand(2000, generator=gen)
    negative[:50] = positive[:50]  # ties: strictly above the K-th negative counts
    ours = link_scores(torch.cat([positive, negative]), torch.cat([torch.ones(300), torch.zeros(2000)]))
    theirs = Evaluator(name).eval({"y_pred_pos": positive, "y_pred_neg": negative})
    assert ours[f"hits@{k}"] == pytest.approx(float(theirs[f"hits@{k}"]))


def test_mrr_with_negatives_per_positive_agrees_with_ogbs_evaluator():
    from ogb.linkproppred import Evaluator

    gen = torch.Generator().manual_seed(0)
    positive, negative = torch.rand(40, generator=gen), torch.rand(40, 1000, generator=gen)
    negative[:, :3] = positive[:, None]  # ties
    theirs = Evaluator("ogbl-citation2").eval({"y_pred_pos": positive, "y_pred_neg": negative})
    # gkd's layout: the positives, then every negative naming its positive (``pair_query``), shuffled
    order = torch.randperm(40 * 1000, generator=gen)
    scores = torch.cat([positive, negative.reshape(-1)[order]])
    labels = torch.cat([torch.ones(40), torch.zeros(40 * 1000)])
    query = torch.cat([torch.arange(40), torch.arange(40).repeat_interleave(1000)[order]])
    ours = link_scores(scores, labels, query)
    assert ours["mrr"] == pytest.approx(float(theirs["mrr_list"].mean()))
    assert ours["hits@10"] == pytest.approx(float(theirs["hits@10_list"].mean()))
