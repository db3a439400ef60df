import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test writes caches to its own session folder, never to ~/.cache."""
    monkeypatch.setenv("GKD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gkd-cache"))


@pytest.fixture
def shared_root() -> Path:
    """The real data root (CI sets GKD_DATA_ROOT to ../shared/datasets)."""
    root = os.environ.get("GKD_DATA_ROOT")
    if not root or not (Path(root) / "planetoid" / "Cora" / "raw").is_dir():
        pytest.skip("real data absent: set GKD_DATA_ROOT to a folder with planetoid/Cora/raw")
    return Path(root)
