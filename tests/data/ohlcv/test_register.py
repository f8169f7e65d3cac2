"""Registering: the same files give the same table and fingerprint; an id names one table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ifns_train.core.errors import ContractError, RegistryError
from ifns_train.data import features as F
from ifns_train.data.index import fingerprint, load_index, register_dataset
from ifns_train.data.ohlcv import IMPORTER_VERSION, build_ohlcv_dataset, import_ohlcv
from tests.data.ohlcv.helpers import folder, ohlcv, raises, write


def test_same_files_same_fingerprint_and_refusal(tmp_path: Path) -> None:
    src = folder(tmp_path, "src")
    paths = [write(ohlcv(seed=s), src / f"s{s}.csv") for s in (1, 2, 3)]
    first, _ = import_ohlcv(paths, "DS_MINE_V1", tmp_path / "r1")
    second, _ = import_ohlcv(paths[::-1], "DS_MINE_V1", tmp_path / "r2")
    third, _ = import_ohlcv([src], "DS_MINE_V1", tmp_path / "r3")
    assert first["fingerprint"] == second["fingerprint"] == third["fingerprint"]
    table = pd.read_parquet(tmp_path / "r1" / first["path"])
    assert fingerprint(table)[0] == first["fingerprint"]
    # Re-importing the same files under the same id is a no-op.
    again, _ = import_ohlcv(paths, "DS_MINE_V1", tmp_path / "r1")
    assert again == first
    stored = load_index(tmp_path / "r1")["datasets"]["DS_MINE_V1"]
    assert stored["source"]["import_report"]["repairs"]["warmup_rows_dropped"] == 3 * 120
    assert [Path(f["path"]).name for f in stored["source"]["files"]] == [
        "s1.csv", "s2.csv", "s3.csv"]
    assert stored["source"]["importer"] == "ifns_train.data.ohlcv"
    assert stored["source"]["version"] == IMPORTER_VERSION == 3
    # Different content under the same id is refused; a new version id is accepted.
    write(ohlcv(seed=4), src / "s1.csv")
    raises(["DS_MINE_V1", "already exists", "new version id", "DS_MINE_V2"], import_ohlcv,
           [src], "DS_MINE_V1", tmp_path / "r1", exc=RegistryError)
    newer, _ = import_ohlcv([src], "DS_MINE_V2", tmp_path / "r1")
    assert newer["fingerprint"] != first["fingerprint"]
    with pytest.raises(ContractError, match="invalid dataset id"):
        import_ohlcv([src], "mine", tmp_path / "r1")


def test_register_without_absent_columns_is_unchanged(tmp_path: Path) -> None:
    frame = build_ohlcv_dataset([write(ohlcv(), tmp_path / "abc.csv")]).frame
    entry = register_dataset(tmp_path / "reg", "DS_PLAIN_V1", frame,
                             feature_families=F.FEATURE_FAMILIES,
                             label_families=F.RETURN_LABEL_FAMILIES)
    assert "absent_columns" not in entry
