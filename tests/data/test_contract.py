"""Each broken input gives one ContractError that names the dataset and the column at fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifns_train.core.errors import ContractError, RegistryError
from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, default_splits, generate_panel
from ifns_train.data.index import register_dataset
from ifns_train.data.resolve import resolve

LABEL = "Label_Direction_Horizon_20d_V1"
FEATURE = FEATURE_FAMILIES["Feature_TREND_MTF_V1"][0]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return generate_panel(n_symbols=4, n_years=2.0, seed=3)


def _resolve(root: Path, dataset_id: str = "DS_BAD_V1", **kw):
    args = dict(
        dataset_ids={s: dataset_id for s in ("train", "val", "test")},
        windows=None,
        feature_families=["Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"],
        label_family=LABEL,
        horizon_days=20,
        context_columns=["regime_tag", "vol_band"],
        extra_columns=["trend_ret_20d"],
        embargo_days=2,
        generate_demo=False,
    )
    args.update(kw)
    return resolve(root, **args)


def _register(root: Path, frame: pd.DataFrame, dataset_id: str = "DS_BAD_V1") -> None:
    register_dataset(root, dataset_id, frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES, splits=default_splits(frame))


def _set(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[row, column] = value
    return frame


CASES: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str]] = {
    "missing feature column": (lambda f: f.drop(columns=[FEATURE]), FEATURE),
    "missing context column": (lambda f: f.drop(columns=["regime_tag"]), "regime_tag"),
    "feature of wrong dtype": (lambda f: f.assign(**{FEATURE: f[FEATURE].astype(str)}), FEATURE),
    "date of wrong dtype": (lambda f: f.assign(date=f["date"].dt.strftime("%Y%m%d")), "date"),
    "NaN feature": (lambda f: _set(f, 50, FEATURE, np.nan), FEATURE),
    "inf feature": (lambda f: _set(f, 60, FEATURE, np.inf), FEATURE),
    "inf label": (lambda f: _set(f, 70, LABEL, np.inf), LABEL),
    "NaN label in the middle": (lambda f: _set(f, 80, LABEL, np.nan), LABEL),
    "direction label not 0/1": (lambda f: _set(f, 90, LABEL, 0.5), LABEL),
    "missing context value": (lambda f: _set(f, 100, "regime_tag", None), "regime_tag"),
    "duplicate row": (lambda f: pd.concat([f.iloc[:10], f.iloc[9:]], ignore_index=True),
                      "duplicate"),
    "unsorted rows": (lambda f: f.iloc[[1, 0, *range(2, len(f))]].reset_index(drop=True),
                      "not sorted"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_table_is_refused_with_its_name(case: str, panel: pd.DataFrame,
                                            tmp_path: Path) -> None:
    corrupt, named = CASES[case]
    _register(tmp_path, corrupt(panel))
    with pytest.raises(ContractError) as err:
        _resolve(tmp_path)
    message = str(err.value)
    assert "DS_BAD_V1" in message and named in message, message


def test_clean_table_resolves_and_counts_unknown_labels(panel: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    _register(tmp_path, panel)
    data = _resolve(tmp_path)
    test = data.report["splits"]["test"]
    # The last 20 dates of each of the 4 symbols have no label yet: excluded and counted.
    assert test["rows_label_unknown"] == 20 * 4
    assert test["rows"] == test["rows_in_window"] - test["rows_label_unknown"]
    assert not np.isnan(data.splits["test"].label).any()


def test_unknown_dataset_and_family(panel: pd.DataFrame, tmp_path: Path) -> None:
    _register(tmp_path, panel)
    with pytest.raises(ContractError, match="unknown dataset id 'DS_NOPE_V1'"):
        _resolve(tmp_path, "DS_NOPE_V1")
    with pytest.raises(ContractError, match="DS_BAD_V1 has no feature family 'Feature_X_V1'"):
        _resolve(tmp_path, feature_families=["Feature_X_V1"])
    with pytest.raises(ContractError, match="horizon 20 trading days, the config says 10"):
        _resolve(tmp_path, horizon_days=10)


def test_changed_table_fails_its_fingerprint(panel: pd.DataFrame, tmp_path: Path) -> None:
    _register(tmp_path, panel)
    path = tmp_path / "datasets" / "DS_BAD_V1.parquet"
    _set(panel, 5, FEATURE, 0.123).to_parquet(path, index=False)
    with pytest.raises(ContractError, match=f"column '{FEATURE}'.*fingerprint"):
        _resolve(tmp_path)
    path.unlink()
    with pytest.raises(ContractError, match="does not exist"):
        _resolve(tmp_path)


def test_same_id_other_content_is_refused(panel: pd.DataFrame, tmp_path: Path) -> None:
    _register(tmp_path, panel)
    _register(tmp_path, panel)  # same content: a no-op
    with pytest.raises(RegistryError, match="another fingerprint"):
        _register(tmp_path, _set(panel, 0, FEATURE, 9.0))


def test_three_datasets_one_per_split_are_purged_on_their_joint_calendar(
    panel: pd.DataFrame, tmp_path: Path
) -> None:
    dates = np.sort(panel["date"].unique())
    cut1, cut2 = dates[len(dates) // 2], dates[3 * len(dates) // 4]
    parts = {
        "DS_TRAIN_CORE_V1": panel[panel["date"] < cut1],
        "DS_VAL_CORE_V1": panel[(panel["date"] >= cut1) & (panel["date"] < cut2)],
        "DS_TEST_CORE_V1": panel[panel["date"] >= cut2],
    }
    for dataset_id, part in parts.items():
        _register(tmp_path, part.reset_index(drop=True), dataset_id)
    data = _resolve(tmp_path, dataset_ids={"train": "DS_TRAIN_CORE_V1",
                                           "val": "DS_VAL_CORE_V1",
                                           "test": "DS_TEST_CORE_V1"})
    assert data.dataset_ids == {"train": "DS_TRAIN_CORE_V1", "val": "DS_VAL_CORE_V1",
                                "test": "DS_TEST_CORE_V1"}
    gap = 20 + 2  # horizon + embargo, in trading days
    pos = {d: i for i, d in enumerate(dates)}
    for split, nxt in (("train", cut1), ("val", cut2)):
        last = data.splits[split].dates.max()
        assert pos[last] + gap < pos[nxt]
        assert pos[last] + gap + 1 == pos[nxt]  # and nothing more than the gap is dropped


def test_zero_realised_volatility_is_left_out_and_counted(panel: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    # A stale price stretch ahead gives a realised volatility of exactly 0: no QLIKE exists.
    rvol = "Label_RealizedVol_Horizon_20d_V1"
    frame = panel.copy()
    zero = frame.index[(frame["symbol"] == "SYM002") & frame[rvol].notna()][:7]
    frame.loc[zero, rvol] = 0.0
    _register(tmp_path, frame)
    data = _resolve(tmp_path, label_family=rvol)
    report = data.report["splits"]["train"]
    assert report["rows_label_zero_vol"] == 7
    assert (data.splits["train"].label > 0).all()
    _register(tmp_path, _set(panel, 3, rvol, -0.1), "DS_NEG_V1")
    with pytest.raises(ContractError, match=f"label '{rvol}' is negative"):
        _resolve(tmp_path, "DS_NEG_V1", label_family=rvol)
