"""The dataset index: an entry's path stays inside the registry folder, dataset ids are matched
whole, and written files take the user's umask (not mkstemp's 0600)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from ifns_train.core import files as store
from ifns_train.core.errors import ContractError
from ifns_train.data.__main__ import main as data_main
from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, default_splits, generate_panel
from ifns_train.data.index import (
    check_dataset_id,
    index_path,
    register_dataset,
    table_path,
)
from ifns_train.data.resolve import resolve

DATASET = "DS_SMALL_V1"


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return generate_panel(n_symbols=3, n_years=2.0, seed=5)


def _register(root: Path, panel: pd.DataFrame) -> None:
    register_dataset(root, DATASET, panel, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES, splits=default_splits(panel))


def _point_at(root: Path, path: str) -> bytes:
    """Set the entry's path (as a hand edit would) and return the index as it now is."""
    index = json.loads(index_path(root).read_text())
    index["datasets"][DATASET]["path"] = path
    index_path(root).write_text(json.dumps(index))
    return index_path(root).read_bytes()


def _resolve(root: Path) -> None:
    resolve(root, dataset_ids=dict.fromkeys(("train", "val", "test"), DATASET), windows=None,
            feature_families=["Feature_TREND_MTF_V1"],
            label_family="Label_Direction_Horizon_20d_V1", horizon_days=20, context_columns=[],
            generate_demo=False)


@pytest.mark.parametrize("where", ["../x.parquet", "datasets/../../x.parquet", "outside",
                                   "/etc/passwd", "link/x.parquet"])
def test_an_entry_path_outside_the_registry_is_refused(
    where: str, panel: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "registry"
    _register(root, panel)
    outside = tmp_path / "x.parquet"
    panel.to_parquet(outside)  # a real table there: the refusal is not "file missing"
    (root / "link").symlink_to(tmp_path)
    path = str(outside) if where == "outside" else where
    before = _point_at(root, path)
    with pytest.raises(ContractError) as info:
        _resolve(root)
    message = str(info.value)
    assert message == (f"dataset {DATASET}: index entry path {path!r} is outside the registry "
                       f"folder {root.resolve()}")
    assert data_main(["show", DATASET, "--registry-dir", str(root)]) == 2
    assert f"index entry path {path!r} is outside" in capsys.readouterr().err
    assert index_path(root).read_bytes() == before  # nothing rewritten
    assert sorted(p.name for p in (root / "datasets").iterdir()) == [f"{DATASET}.parquet"]


def test_an_absolute_path_inside_the_registry_is_read(panel: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    root = tmp_path / "registry"
    _register(root, panel)
    inside = (root / "datasets" / f"{DATASET}.parquet").resolve()
    _point_at(root, str(inside))
    assert table_path(root, {"dataset_id": DATASET, "path": str(inside)}) == inside
    _resolve(root)


@pytest.mark.parametrize("path", [None, "", 7])
def test_an_entry_without_a_path_is_refused(path: object, tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=f"dataset {DATASET}: index entry path"):
        table_path(tmp_path, {"dataset_id": DATASET, "path": path})


def test_a_dataset_id_is_matched_whole_and_quoted_short(panel: pd.DataFrame,
                                                        tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"invalid dataset id 'DS_X_V1\\n'"):
        check_dataset_id("DS_X_V1\n")
    assert check_dataset_id("DS_" + "X" * 125) == "DS_" + "X" * 125
    with pytest.raises(ContractError, match=r"\(129 characters\)"):
        check_dataset_id("DS_" + "X" * 126)
    with pytest.raises(ContractError, match=r"'DS_XXXX.*'\.\.\. \(5000 characters\)") as info:
        register_dataset(tmp_path, "DS_" + "X" * 4997, panel, feature_families={},
                         label_families={})
    assert len(str(info.value)) < 250
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for the test, restored after it."""
    old = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_take_the_umask(mask: int, mode: int, umask: Callable[[int], None],
                                      panel: pd.DataFrame, tmp_path: Path) -> None:
    umask(mask)
    assert store.umask() == mask
    _register(tmp_path, panel)
    assert _mode(index_path(tmp_path)) == mode
    assert _mode(tmp_path / "datasets" / f"{DATASET}.parquet") == mode
    store.atomic_write_json(tmp_path / "doc.json", {"a": 1})
    assert _mode(tmp_path / "doc.json") == mode


def test_the_umask_without_proc(umask: Callable[[int], None], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "_PROC_STATUS", tmp_path / "absent")
    umask(0o027)
    assert store.umask() == 0o027
    assert store.umask() == 0o027  # read back unchanged
    store.atomic_write_json(tmp_path / "doc.json", {"a": 1})
    assert _mode(tmp_path / "doc.json") == 0o640
