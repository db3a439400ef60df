"""Image features as token graphs: patching, sampling and k-nearest-neighbour edges.

A vision model's feature map (B, C, H, W) is cut into non-overlapping p x p patches, one token per
patch (the patch's mean), giving (B, N, C) with N = (H // p) * (W // p); a ViT's token sequence
(B, N, C) is used as it is (a class token, if the model has one, is left out by the model). m
tokens per image are sampled at the same positions for teacher and student, and a k-NN graph with
Gaussian weights exp(-||t_i - t_j||^2 / (2 sigma)) is built over the batch's sampled tokens.

Memory: ``knn_graph`` computes distances in row blocks of ``block`` tokens, so its peak is
``block x M`` floats (M = B * m tokens in the batch) plus the M x k result, never M x M at once
when M > block.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import MismatchError


def patch_tokens(features: Tensor, patch: int = 1) -> Tensor:
    """Tokens (B, N, C) from a feature map (B, C, H, W) (mean over each non-overlapping
    ``patch`` x ``patch`` patch; rows and columns beyond the last whole patch are dropped) or from
    a token sequence (B, N, C), returned unchanged (``patch`` must then be 1: a sequence has no
    grid to cut)."""
    if patch < 1:
        raise ValueError(f"patch size must be at least 1, got {patch}")
    if features.dim() == 3:
        if patch != 1:
            raise MismatchError(f"a token sequence {tuple(features.shape)} has no spatial grid: use patch=1 "
                                f"or pass the feature map (B, C, H, W)")
        return features
    if features.dim() != 4:
        raise MismatchError(f"tokens come from a feature map (B, C, H, W) or a sequence (B, N, C); "
                            f"got shape {tuple(features.shape)}")
    b, c, h, w = features.shape
    if h < patch or w < patch:
        raise MismatchError(f"a {h}x{w} feature map is smaller than one {patch}x{patch} patch")
    pooled = F.avg_pool2d(features, kernel_size=patch, stride=patch)
    return pooled.flatten(2).transpose(1, 2)


def to_grid(tokens: Tensor, side: int) -> Tensor:
    """(B, N, C) tokens of a square grid (N = s * s) averaged down to a ``side`` x ``side`` grid
    (adaptive average pooling), so that a teacher and a student with different grids share token
    positions. Unchanged when the grid already has that side."""
    b, n, c = tokens.shape
    s = int(round(n ** 0.5))
    if s * s != n:
        raise MismatchError(f"{n} tokens do not form a square grid; give both models the same number of tokens")
    if s == side:
        return tokens
    if side > s:
        raise MismatchError(f"cannot refine a {s}x{s} token grid to {side}x{side}")
    grid = tokens.transpose(1, 2).reshape(b, c, s, s)
    return F.adaptive_avg_pool2d(grid, side).flatten(2).transpose(1, 2)


def align_tokens(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
    """Student and teacher tokens on a common grid: the finer grid is pooled to the coarser."""
    if student.size(0) != teacher.size(0):
        raise MismatchError(f"student tokens cover {student.size(0)} images, teacher tokens {teacher.size(0)}")
    if student.size(1) == teacher.size(1):
        return student, teacher
    side = int(round(min(student.size(1), teacher.size(1)) ** 0.5))
    return to_grid(student, side), to_grid(teacher, side)


def sample_positions(batch: int, num_tokens: int, m: int | None, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> Tensor:
    """(B, m) token positions, m distinct positions per image drawn uniformly (a fresh draw per
    image); every position, in order, when ``m`` is None or at least ``num_tokens``. Use the
    result for teacher and student alike (``gather_tokens``)."""
    if m is None or m >= num_tokens:
        return torch.arange(num_tokens, device=device).expand(batch, num_tokens)
    if m < 1:
        raise ValueError(f"m (tokens per image) must be at least 1, got {m}")
    noise = torch.rand(batch, num_tokens, generator=generator, device=generator.device if generator else device)
    return noise.argsort(dim=1)[:, :m].to(device)


def gather_tokens(tokens: Tensor, positions: Tensor) -> Tensor:
    """tokens (B, N, C) at ``positions`` (B, m) -> (B, m, C)."""
    return tokens.gather(1, positions.unsqueeze(-1).expand(-1, -1, tokens.size(-1)))


def knn_graph(tokens: Tensor, k: int, sigma: float = 1.0, block: int = 4096) -> tuple[Tensor, Tensor]:
    """The k nearest neighbours of each of the M tokens (M, C) by Euclidean distance, the token
    itself excluded: ``(neighbours, weights)``, both (M, k), weights exp(-d^2 / (2 sigma)), nearest
    first (ties in distance broken arbitrarily). Memory ``block`` x M per step (see the module docstring)."""
    m = tokens.size(0)
    if not 1 <= k < m:
        raise MismatchError(f"k must be between 1 and the number of tokens minus one ({m - 1}), got {k}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    neighbours, distances = [], []
    squared = tokens.pow(2).sum(-1)
    for start in range(0, m, block):
        rows = tokens[start:start + block]
        d2 = (squared[start:start + block, None] + squared[None, :] - 2 * rows @ tokens.t()).clamp_min(0)
        own = torch.arange(start, start + rows.size(0), device=tokens.device)
        d2[torch.arange(rows.size(0), device=tokens.device), own] = float("inf")
        top = d2.topk(k, dim=1, largest=False, sorted=True)
        neighbours.append(top.indices)
        distances.append(top.values)
    d2 = torch.cat(distances)
    return torch.cat(neighbours), torch.exp(-d2 / (2 * sigma))


def neighbour_distances(tokens: Tensor, neighbours: Tensor) -> Tensor:
    """Squared distances (M, k) between each token and the tokens ``neighbours`` names: the same
    edges measured in another representation (the student's, on the teacher's graph)."""
    return (tokens.unsqueeze(1) - tokens[neighbours]).pow(2).sum(-1)
