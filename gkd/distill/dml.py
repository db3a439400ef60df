"""Deep mutual learning: a cohort of models trained together, each taught by the others."""
from __future__ import annotations

from torch import Tensor

from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss, soft_target_kl
from .registry import register


@register
class DeepMutualLearning(Distiller):
    """Zhang, Xiang, Hospedales & Lu, "Deep Mutual Learning" (CVPR 2018).

    A cohort of K models, none pretrained, trains together (``gkd.train_cohort``); model k's loss is

        L_k = CE(z_k, y) on labelled rows + kl_weight * 1/(K-1) * sum_{l != k} KL(p_l || p_k),

    p = softmax(z / T), the KL over the rows the peers predict (every node of a transductive node
    task; the labelled rows alone with ``unlabelled=False``), each peer's prediction a constant
    (detached) to the model learning from it.

    From the authors' code (YingZhangDUT/Deep-Mutual-Learning, ``train_models.py``,
    ``_tower_loss`` and the training op): every model's loss comes from one forward pass of all
    models on the same batch; the KL is at T = 1 with unit weight; each model has its own
    optimiser and takes its step in the same iteration (each model's gradients are taken over its
    own weights, so a peer is a constant). Ours: the peers' KL terms are averaged, as the paper's
    1/(K-1) writes (the code sums them: the same for two models); on a graph, the KL also covers
    the unlabelled nodes, where the peers' predictions exist too (as graph KD distils them);
    each model is kept at its own best-validation epoch. Peers can differ in architecture (a GNN
    and an MLP: ``benchmarks`` pairs the student with a fresh model of the teacher's architecture).
    """

    name = "dml"
    family = "output"
    taught_by = "mutual"
    needs_teacher = False
    logits_only = True

    def __init__(self, temperature: float = 1.0, kl_weight: float = 1.0, unlabelled: bool = True):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"dml: temperature must be positive, got {temperature}")
        if kl_weight < 0:
            raise ValueError(f"dml: kl_weight must be >= 0, got {kl_weight}")
        self.temperature, self.kl_weight, self.unlabelled = temperature, kl_weight, unlabelled

    def forward(self, student: Outputs, teacher: list[Outputs] | None, batch: Batch) -> dict[str, Tensor]:
        if not teacher:
            raise ValueError("dml trains a cohort: call gkd.train_cohort with at least two models")
        rows = batch.visible if self.unlabelled else batch.labelled
        z = student.logits[rows]
        kl = sum(soft_target_kl(z, peer.logits[rows], self.temperature, batch.objective) for peer in teacher)
        return {"ce": label_loss(student.logits, batch), "mutual": self.kl_weight * kl / len(teacher)}
