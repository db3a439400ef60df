"""The results store of a benchmark folder, shared safely by every process that writes to it.

``<out>/results.jsonl`` holds one JSON record per finished run (a failed one with its error).
Writers take turns under a file lock (``gkd.io.file_lock``), so no line is lost, and each line is
added by an atomic rewrite, so a killed writer leaves no half line. Before running, a process
claims the runs it is about to do (``<out>/claims.jsonl``, under the same lock): a run that is
finished, or claimed by another process that is still alive, is not claimed again, so two
processes sharing a folder never run one key twice. A claim of a process that died is free again.
Records are deduplicated by run key when read: the last finished record of a key counts (or, when
none finished, its last failure).
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

from gkd.io import append_jsonl, atomic_write_text, file_lock, process_alive, read_jsonl


class ResultsStore:
    """``records()``, ``done()``, ``claim(keys)``, ``add(record)`` and ``release(keys)`` on a
    results folder; ``key`` maps a record to its run key."""

    def __init__(self, folder: str | os.PathLike, key: Callable[[dict], str]):
        self.folder = Path(folder)
        self.path = self.folder / "results.jsonl"
        self.claims_path = self.folder / "claims.jsonl"
        self.key = key
        self.me = {"pid": os.getpid(), "host": socket.gethostname()}

    def records(self) -> list[dict]:
        """Every record, one per run key: its last finished record, or its last failure."""
        chosen: dict[str, dict] = {}
        for record in read_jsonl(self.path):
            key = self.key(record)
            if record.get("status") == "ok" or chosen.get(key, {}).get("status") != "ok":
                chosen[key] = record
        return list(chosen.values())

    def done(self) -> set[str]:
        """The keys of the runs that finished."""
        return {self.key(r) for r in self.records() if r.get("status") == "ok"}

    def _claims(self) -> list[dict]:
        """The live claims: those of this process and of other processes still running (a claim
        from another host counts as live: its process cannot be checked from here)."""
        live = []
        for claim in read_jsonl(self.claims_path):
            same_host = claim.get("host") == self.me["host"]
            if not same_host or claim.get("pid") == self.me["pid"] or process_alive(int(claim.get("pid", -1))):
                live.append(claim)
        return live

    def _write_claims(self, claims: list[dict]) -> None:
        atomic_write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in claims), self.claims_path)

    def claim(self, keys: Iterable[str]) -> list[str]:
        """Claim those of ``keys`` that are neither finished nor claimed by another live process;
        returns the claimed ones, in order."""
        keys = list(keys)
        with file_lock(self.path):
            done = self.done()
            claims = self._claims()
            taken = {c["key"] for c in claims if c["pid"] != self.me["pid"] or c["host"] != self.me["host"]}
            mine = [k for k in keys if k not in done and k not in taken]
            claims += [{"key": k, **self.me} for k in mine]
            self._write_claims(claims)
        return mine

    def release(self, keys: Iterable[str]) -> None:
        """Give up this process's claims on ``keys`` (runs it will not do after all)."""
        keys = set(keys)
        with file_lock(self.path):
            mine = self.me.items()
            self._write_claims([c for c in self._claims()
                                if not (c["key"] in keys and all(c.get(k) == v for k, v in mine))])

    def add(self, record: dict) -> None:
        """Append ``record`` (``gkd.io.append_jsonl``: under the lock, atomically), then release this
        process's claim on its key."""
        append_jsonl(record, self.path)
        self.release([self.key(record)])
