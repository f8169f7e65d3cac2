"""The JSON store: parallel writers lose nothing, a broken or newer file is refused."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from ifns_train.core import files
from ifns_train.core.errors import RegistryError
from ifns_train.core.files import transaction
from ifns_train.registry import ids


def _append_many(path: str, worker: int, n: int) -> None:
    for i in range(n):
        with transaction(Path(path), {"items": []}) as doc:
            doc["items"].append(f"{worker}-{i}")


def test_parallel_writers_lose_no_entry(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    items = json.loads(path.read_text())["items"]
    assert sorted(items) == sorted(f"{w}-{i}" for w in range(4) for i in range(25))


def test_failed_edit_leaves_the_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    with transaction(path, {"items": []}) as doc:
        doc["items"].append("kept")
    with pytest.raises(RuntimeError), transaction(path, {"items": []}) as doc:
        doc["items"].append("lost")
        raise RuntimeError("crash mid-edit")
    assert json.loads(path.read_text())["items"] == ["kept"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_corrupt_or_newer_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text("{not json")
    with pytest.raises(RegistryError, match=r"log\.json is not valid JSON"), \
            transaction(path, {"items": []}):
        pass
    path.write_text(json.dumps({"schema_version": 99, "items": []}))
    with pytest.raises(RegistryError, match="schema_version 99"), \
            transaction(path, {"items": []}):
        pass


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", "x" * 200, "has space", ".hidden"])
def test_ids_that_would_be_unsafe_paths_are_refused(bad: str) -> None:
    with pytest.raises(RegistryError):
        ids.check_id(bad, "model_id")


def test_new_ids_share_stamp_and_are_unique() -> None:
    now = ids.utc_now()
    exp, model = ids.new_ids("my_exp", "MF_DIR_CORE_V1", now)
    assert exp.startswith("EXP_my_exp_") and model.startswith("MDL_DIR_CORE_V1_")
    assert exp.removeprefix("EXP_my_exp_") == model.removeprefix("MDL_DIR_CORE_V1_")
    assert ids.new_ids("my_exp", "MF_DIR_CORE_V1", now) != (exp, model)
    with pytest.raises(RegistryError, match="experiment_name"):
        ids.new_ids("../x", "MF_DIR_CORE_V1", now)


def test_sync_folder_syncs_every_file_and_folder(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A staged folder written without a sync per file is made durable whole: each file
    (nested too) and each folder's entries, before it is renamed."""
    stage = tmp_path / "stage"
    (stage / "curves").mkdir(parents=True)
    files.atomic_write_json(stage / "metrics.json", {"a": 1}, sync=False)
    files.atomic_write_bytes(stage / "curves" / "x.json", b"{}", sync=False)
    (stage / "model.ckpt").write_bytes(b"weights")
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    files.sync_folder(stage)
    assert sorted(synced) == sorted(str(p) for p in [stage, *stage.rglob("*")])


def test_json_bytes_are_what_atomic_write_json_writes(tmp_path: Path) -> None:
    doc = {"b": [1.5, None], "a": "é"}
    files.atomic_write_json(tmp_path / "d.json", doc)
    assert (tmp_path / "d.json").read_bytes() == files.json_bytes(doc)
    assert json.loads(files.json_bytes(doc)) == doc
    with pytest.raises(ValueError):
        files.json_bytes({"x": float("nan")})
