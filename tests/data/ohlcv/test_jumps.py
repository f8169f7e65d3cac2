"""Jumps: a split is never invented, a genuine move never refused for want of a split ratio,
and a bad print is named with its rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ifns_train.core.errors import ConfigError
from ifns_train.data.ohlcv import ImportOptions, KnownSplit
from tests.data.ohlcv.helpers import (
    PRICES,
    build,
    folder,
    ohlcv,
    problem_lines,
    raises,
    split_at,
    write,
)

AT = 100  # the row of the jump: file row 101 (line 102)


def _split_file(tmp_path: Path, name: str, adj: bool = False, symbol: str = "abc") -> Path:
    raw = ohlcv()
    split = split_at(raw, AT)
    if adj:
        split["Adj Close"] = raw["Close"]
    return write(split, folder(tmp_path, name) / f"{symbol}.csv")


def test_split_like_jump_is_refused_with_neutral_options(tmp_path: Path) -> None:
    path = _split_file(tmp_path, "raw")
    day = ohlcv()["Date"].iloc[AT]
    message = raises(["abc.csv: row 101 (line 102), symbol ABC", "column 'Close' moves",
                      "(x0.5", "close to a 2:1 split", "the day opens at that level"], build, path)
    # The options in this order: a genuine move, a split, adjust every split-like jump.
    keep = message.index("--keep-jumps ABC")
    split = message.index(f"--split ABC:{day}:2")
    adjust = message.index("--adjust-splits")
    assert keep < split < adjust


def test_known_split_is_applied_where_the_data_shows_it(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    path = _split_file(tmp_path, "raw")
    day = ohlcv()["Date"].iloc[AT]
    got, report = build(path, splits=(KnownSplit.parse(f"abc:{day}:2"),))
    pd.testing.assert_frame_equal(got, base, check_exact=True)  # x2 then x0.5 is exact
    assert report["repairs"]["splits_adjusted"] == 1
    (item,) = report["details"]["splits_adjusted"]
    assert (item["symbol"], item["date"], item["split"], item["price_factor"],
            item["shares_ratio"], item["from"]) == ("ABC", day, "2:1 split", 0.5, 2.0,
                                                    f"--split abc:{day}:2")
    # From a splits file: the same.
    splits = tmp_path / "splits.csv"
    splits.write_text(f"Symbol,Date,Ratio\nABC,{day},2\nABC,2020-01-02,3/2\n")
    raises(["splits.csv line 3: symbol ABC has no row on 2020-01-02 (its rows run from "
            "2021-01-04 to 2021-08-13)"], build, path, splits_file=str(splits))
    splits.write_text(f"symbol,date,ratio\nABC,{day},2\n\n")
    got, _ = build(path, splits_file=str(splits))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    # A reverse split (1 new share for 2 old): the price doubles.
    reverse = write(split_at(ohlcv(), AT, ratio=0.5), folder(tmp_path, "rev") / "abc.csv")
    got, _ = build(reverse, splits=(KnownSplit.parse(f"ABC:{day}:0.5"),))
    pd.testing.assert_frame_equal(got, base, check_exact=True)


def test_known_split_the_data_does_not_show_is_a_problem(tmp_path: Path) -> None:
    day = ohlcv()["Date"].iloc[AT]
    # Already adjusted data (the vendor's Adj Close): the data moves x1.0..., not x0.5.
    adjusted = _split_file(tmp_path, "adj", adj=True)
    raises(["abc.csv: row 101 (line 102), symbol ABC", "(the adjusted series) moves",
            f"--split ABC:{day}:2 (a 2:1 split) expects x0.5",
            "the data may already be adjusted"], build, adjusted,
           splits=(KnownSplit.parse(f"ABC:{day}:2"),))
    path = _split_file(tmp_path, "raw")
    raises(["--split XYZ:2021-05-24:2: symbol XYZ is not in the data"], build, path,
           splits=(KnownSplit.parse("XYZ:2021-05-24:2"),))
    raises(["symbol ABC has no row on 2021-05-22"], build, path,
           splits=(KnownSplit.parse("ABC:2021-05-22:2"),))  # a Saturday
    with pytest.raises(ConfigError, match="two ratios for the split of ABC on 2021-05-24"):
        build(path, splits=(KnownSplit.parse("ABC:2021-05-24:2"),
                            KnownSplit.parse("ABC:2021-05-24:3")))
    for bad, why in (("ABC:2021-05-24", "expected SYMBOL:YYYY-MM-DD:RATIO"),
                     ("ABC:24/05/2021:2", "not a valid YYYY-MM-DD date"),
                     ("ABC:2021-05-24:0", "not a positive number other than 1"),
                     ("ABC:2021-05-24:1", "not a positive number other than 1")):
        with pytest.raises(ConfigError, match=why):
            KnownSplit.parse(bad)


def test_adjust_splits_back_adjusts_every_detected_jump(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    got, report = build(_split_file(tmp_path, "raw"), adjust_splits=True)
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["details"]["splits_adjusted"][0]["from"] == "detected, --adjust-splits"


def test_keep_jumps_is_per_symbol(tmp_path: Path) -> None:
    both = folder(tmp_path, "both")
    for symbol in ("abc", "xyz"):
        write(split_at(ohlcv(seed=len(symbol) + ord(symbol[0])), AT), both / f"{symbol}.csv")
    message = raises(["2 problems found in 2 files"], build, both)
    assert len(problem_lines(message)) == 2
    raises(["1 problem found", "symbol XYZ", "--keep-jumps XYZ"], build, both,
           keep_jumps=("ABC",))
    _, report = build(both, keep_jumps=("ABC", "xyz"))
    assert report["reported"]["large_moves_kept"] == 2
    _, report = build(both, keep_jumps=("all",))
    assert [m["why"] for m in report["details"]["large_moves_kept"]] == [
        "split-like, kept by --keep-jumps"] * 2
    with pytest.raises(ConfigError, match=r"--adjust-splits back-adjusts .* excludes "
                                          r"--keep-jumps ABC"):
        build(both, keep_jumps=("ABC",), adjust_splits=True)
    assert ImportOptions(keep_jumps=("ALL",)).checked().keeps_jumps("ABC") is False  # a ticker
    assert ImportOptions(keep_jumps=True).checked().keep_jumps == ("all",)
    assert ImportOptions(keep_jumps=" abc").checked().keep_jumps == ("ABC",)
    raises(["--keep-jumps ABD: symbol ABD is not in the data"], build, both,
           keep_jumps=("ABD", "XYZ"))


def test_intraday_crash_is_a_genuine_move(tmp_path: Path) -> None:
    """A -50% day that opened near the previous close: no split, kept and reported."""
    raw = ohlcv()
    crash = raw.copy()
    crash.loc[AT + 1:, PRICES] = raw.loc[AT + 1:, PRICES] * 0.5
    crash.loc[AT, ["Close", "Low"]] = raw.loc[AT, ["Close", "Low"]] * 0.5
    crash.loc[AT, "Open"] = raw.loc[AT - 1, "Close"] * 1.002
    crash.loc[AT, "High"] = crash.loc[AT, "Open"] * 1.01
    _, report = build(write(crash, tmp_path / "abc.csv"))
    assert report["repairs"]["splits_adjusted"] == 0
    (move,) = report["details"]["large_moves_kept"]
    assert move["date"] == raw["Date"].iloc[AT] and move["why"].endswith("an intraday move")
    assert move["ratio"] == pytest.approx(0.5 * raw["Close"].iloc[AT] / raw["Close"].iloc[AT - 1])
    # Without an Open column nothing tells a split from a move: refused, with the options.
    raises(["(no Open column tells a split from a move)", "--keep-jumps ABC"], build,
           write(crash.drop(columns=["Open"]), tmp_path / "close_only" / "abc.csv"))


def test_jump_left_in_adjusted_series_is_kept_not_called_a_split(tmp_path: Path) -> None:
    raw = ohlcv()
    vendor = split_at(raw, AT)
    vendor["Adj Close"] = vendor["Close"]  # the adjusted series still jumps: the vendor's data
    _, report = build(write(vendor, tmp_path / "abc.csv"))
    (move,) = report["details"]["large_moves_kept"]
    assert move["why"] == "split-like, in the vendor's adjusted series"
    assert report["repairs"]["splits_adjusted"] == 0
    _, report = build(tmp_path / "abc.csv", adjust_splits=True)  # never adjusted
    assert report["repairs"]["splits_adjusted"] == 0


def test_transient_is_a_problem_naming_the_rows(tmp_path: Path) -> None:
    raw = ohlcv()
    spike = raw.copy()
    spike.loc[80, PRICES] *= 10.0
    raises(["row 81 (line 82), symbol SPIKE", "close to a 1:10 reverse split", "a one-day spike",
            "fix the row 81"], build, write(spike, tmp_path / "spike.csv"), adjust_splits=True)
    dip = raw.copy()
    dip.loc[80:82, PRICES] *= 0.5
    message = raises(["row 81 (line 82)", "a 3-day transient", "fix the rows 81 to 83"], build,
                     write(dip, tmp_path / "dip.csv"), keep_jumps=("all",))
    assert len(problem_lines(message)) == 1  # the move back is part of it
    jump = raw.copy()
    jump.loc[100:, PRICES] *= 1.9  # large, but no split ratio
    _, report = build(write(jump, tmp_path / "jump.csv"))
    assert report["reported"]["large_moves_kept"] == 1
    assert report["details"]["large_moves_kept"][0]["date"] == raw["Date"].iloc[100]
    assert report["details"]["large_moves_kept"][0]["why"] == "no split ratio"


OPEN_GAP = 0.499  # the split day opens at x0.499 of the previous close: a 2:1 split ...
INTRADAY = 1.1  # ... and rises 10% during the day: the close is x0.5489, no split ratio


def _rises_after_open(raw: pd.DataFrame) -> pd.DataFrame:
    """`raw` with day AT opening at OPEN_GAP x 2 of the previous close (the split to come
    halves it) and closing INTRADAY above its open, High and Low around both."""
    out = raw.copy()
    opened = raw.loc[AT - 1, "Close"] * OPEN_GAP * 2
    out.loc[AT, ["Open", "Close"]] = [opened, opened * INTRADAY]
    out.loc[AT, ["High", "Low"]] = [opened * INTRADAY * 1.005, opened * 0.995]
    return out


def test_split_seen_at_the_open_when_the_close_moved(tmp_path: Path) -> None:
    """Open at half the previous close, close up 10% from it: a 2:1 split, not a -45% day."""
    unsplit = _rises_after_open(ohlcv())
    day = unsplit["Date"].iloc[AT]
    base, _ = build(write(unsplit, folder(tmp_path, "clean") / "abc.csv"))
    path = write(split_at(unsplit, AT), folder(tmp_path, "raw") / "abc.csv")
    message = raises(["abc.csv: row 101 (line 102), symbol ABC", "column 'Close' moves",
                      f"(x{OPEN_GAP * INTRADAY:.4g})", f"opens at x{OPEN_GAP:.4g} of the "
                      "previous close, close to a 2:1 split"], build, path)
    assert len(problem_lines(message)) == 1
    keep = message.index("--keep-jumps ABC")
    assert keep < message.index(f"--split ABC:{day}:2") < message.index("--adjust-splits")
    # --split: the earlier prices x 1/2 and volume x 2 (split_at did x2 and /2): the clean data.
    got, report = build(path, splits=(KnownSplit.parse(f"ABC:{day}:2"),))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    (item,) = report["details"]["splits_adjusted"]
    assert (item["date"], item["price_factor"], item["shares_ratio"]) == (day, 0.5, 2.0)
    assert report["reported"]["large_moves_kept"] == 0
    # --adjust-splits: by the nominal ratio, so the day keeps its genuine +10% from the open.
    got, report = build(path, adjust_splits=True)
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["details"]["splits_adjusted"][0]["price_factor"] == 0.5
    # --keep-jumps: kept as the move the closes show.
    _, report = build(path, keep_jumps=("ABC",))
    (move,) = report["details"]["large_moves_kept"]
    assert move["why"] == "split-like, kept by --keep-jumps"
    assert move["ratio"] == pytest.approx(OPEN_GAP * INTRADAY)
    assert report["repairs"]["splits_adjusted"] == 0


def test_split_seen_at_the_open_needs_an_open_column(tmp_path: Path) -> None:
    """Without Open the same closes are what they were: a large move with no split ratio,
    and a --split on it the data does not show."""
    unsplit = _rises_after_open(ohlcv())
    day = unsplit["Date"].iloc[AT]
    path = write(split_at(unsplit, AT).drop(columns=["Open"]), tmp_path / "abc.csv")
    _, report = build(path)
    (move,) = report["details"]["large_moves_kept"]
    assert move["why"] == "no split ratio"
    assert move["ratio"] == pytest.approx(OPEN_GAP * INTRADAY)
    _, report = build(path, adjust_splits=True)
    assert report["repairs"]["splits_adjusted"] == 0
    message = raises(["(x0.5489) on", f", but --split ABC:{day}:2 (a 2:1 split) expects x0.5: "
                      "the data may already be adjusted"], build, path,
                     splits=(KnownSplit.parse(f"ABC:{day}:2"),))
    assert "opens at" not in message
    # A close-to-close 2:1 jump without Open: refused with the remedies, word for word.
    halved = write(split_at(ohlcv(), AT).drop(columns=["Open"]), tmp_path / "xyz" / "abc.csv")
    (line,) = problem_lines(raises([], build, halved))
    assert line.endswith(
        ", close to a 2:1 split (no Open column tells a split from a move): if the move is "
        f"genuine, pass --keep-jumps ABC; if it is a split, --split ABC:{day}:2; or "
        "--adjust-splits to back-adjust every detected split-like jump")


def test_open_alone_at_a_split_ratio_is_no_split(tmp_path: Path) -> None:
    """A day that opens at half the previous close but closes at the old level is a bad open,
    not a split: adjusting it would invent a +100% day."""
    raw = ohlcv()
    bad = raw.copy()
    bad.loc[AT, ["Open", "Low"]] = raw.loc[AT - 1, "Close"] * 0.5
    path = write(bad, tmp_path / "abc.csv")
    _, report = build(path, adjust_splits=True)
    assert report["repairs"]["splits_adjusted"] == 0
    assert report["reported"]["large_moves_kept"] == 0
    raises(["and opens at x0.5 of the previous close, but --split ABC", "expects x0.5"], build,
           path, splits=(KnownSplit.parse(f"ABC:{raw['Date'].iloc[AT]}:2"),))


def test_split_seen_at_the_open_in_a_transient_or_adjusted_series(tmp_path: Path) -> None:
    """What the open shows goes through the same checks as a close: a jump that comes back is
    a bad print, and one left in the vendor's adjusted series is kept."""
    raw = _rises_after_open(ohlcv())
    dip = raw.copy()
    dip.loc[AT:AT + 1, PRICES] = raw.loc[AT:AT + 1, PRICES] * 0.5  # back on day AT + 2
    raises(["row 101 (line 102)", f"opens at x{OPEN_GAP:.4g} of the previous close",
            "a 2-day transient", "fix the rows 101 to 102"], build,
           write(dip, tmp_path / "dip" / "abc.csv"), adjust_splits=True)
    vendor = split_at(raw, AT)
    vendor["Adj Close"] = vendor["Close"]  # the adjusted series still jumps
    _, report = build(write(vendor, tmp_path / "vendor" / "abc.csv"), adjust_splits=True)
    (move,) = report["details"]["large_moves_kept"]
    assert move["why"] == "split-like, in the vendor's adjusted series"
    assert report["repairs"]["splits_adjusted"] == 0
