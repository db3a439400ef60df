"""Every registered method (and a combination) trains end to end; the task's graph is never
moved in place."""
import torch

import gkd
from benchmarks.smoke import main


def test_every_method_trains_for_an_epoch(capsys):
    assert main(["--epochs", "1"]) == 0
    out = capsys.readouterr().out
    for method in gkd.distill.available() + ["glnn+srd"]:
        assert f" {method} " in out
    assert "0 failed on cpu" in out


def test_data_on_keeps_the_tasks_graph_where_it_is():
    task = gkd.data.load("synthetic", seed=0)
    assert task.data_on("cpu") is task.data and task.data_on(torch.device("cpu")) is task.data
    assert task.data.x.device.type == "cpu"
