"""Image tokens as graphs: patching, grids, sampling and the k-NN graph."""
import math

import pytest
import torch

from gkd.errors import MismatchError
from gkd.graph.tokens import (
    align_tokens,
    gather_tokens,
    knn_graph,
    neighbour_distances,
    patch_tokens,
    sample_positions,
    to_grid,
)


def test_patch_tokens_of_a_cnn_map_are_patch_means():
    fmap = torch.arange(2 * 3 * 4 * 4, dtype=torch.float).view(2, 3, 4, 4)
    tokens = patch_tokens(fmap, patch=2)
    assert tokens.shape == (2, 4, 3)
    # token 1 of image 0 = top-right 2x2 patch of each channel
    assert torch.allclose(tokens[0, 1], fmap[0, :, 0:2, 2:4].mean(dim=(1, 2)))
    assert torch.allclose(tokens[1, 2], fmap[1, :, 2:4, 0:2].mean(dim=(1, 2)))
    assert patch_tokens(fmap, 1).shape == (2, 16, 3)
    assert patch_tokens(torch.zeros(2, 3, 5, 5), 2).shape == (2, 4, 3)  # the last row / column dropped


def test_a_vit_sequence_is_its_own_tokens():
    seq = torch.randn(2, 9, 8)
    assert patch_tokens(seq) is seq
    with pytest.raises(MismatchError, match="no spatial grid"):
        patch_tokens(seq, 2)
    with pytest.raises(MismatchError, match="feature map"):
        patch_tokens(torch.zeros(3, 4))


def test_grids_align_by_pooling_the_finer():
    fine = patch_tokens(torch.randn(2, 5, 4, 4))
    coarse = torch.randn(2, 4, 7)
    s, t = align_tokens(fine, coarse)
    assert s.shape == (2, 4, 5) and t is coarse
    grid = fine.transpose(1, 2).reshape(2, 5, 4, 4)
    assert torch.allclose(s[:, 3], grid[:, :, 2:, 2:].mean(dim=(2, 3)))
    with pytest.raises(MismatchError, match="square"):
        to_grid(torch.randn(1, 6, 2), 2)


def test_sampled_positions_are_distinct_shared_and_seeded():
    pos = sample_positions(3, 10, 4, torch.Generator().manual_seed(0))
    again = sample_positions(3, 10, 4, torch.Generator().manual_seed(0))
    assert pos.shape == (3, 4) and torch.equal(pos, again)
    assert all(len(set(row.tolist())) == 4 for row in pos)
    assert not torch.equal(pos[0], pos[1]) or not torch.equal(pos[1], pos[2])  # a fresh draw per image
    tokens = torch.randn(3, 10, 2)
    picked = gather_tokens(tokens, pos)
    assert torch.equal(picked[2, 1], tokens[2, pos[2, 1]])
    assert torch.equal(sample_positions(2, 5, None), torch.arange(5).expand(2, 5))


@pytest.mark.parametrize("block", [4096, 7])
def test_knn_graph_matches_brute_force(block):
    torch.manual_seed(0)
    x = torch.randn(40, 6)
    neighbours, weights = knn_graph(x, k=5, sigma=2.0, block=block)
    d2 = torch.tensor([[float(((x[i] - x[j]) ** 2).sum()) for j in range(40)] for i in range(40)])
    for i in range(40):
        others = sorted((d2[i, j].item(), j) for j in range(40) if j != i)[:5]
        assert neighbours[i].tolist() == [j for _, j in others]
        expected = torch.tensor([math.exp(-d / 4.0) for d, _ in others])
        assert torch.allclose(weights[i], expected, atol=1e-5)
    assert torch.allclose(neighbour_distances(x, neighbours), d2.gather(1, neighbours), atol=1e-4)


def test_knn_graph_rejects_a_k_it_cannot_meet():
    with pytest.raises(MismatchError, match="k must be"):
        knn_graph(torch.randn(4, 2), k=4)
