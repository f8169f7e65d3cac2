"""`python -m ifns_train.data` / `ifns-data`: the Stage 02 dataset index and what goes into it.

    ifns-data demo                                      the embedded synthetic demo panel
    ifns-data import-ohlcv PATH... --dataset-id DS_X_V1 your own daily OHLCV files
    ifns-data list                                      the datasets of the index
    ifns-data show DS_X_V1 [--json]                     one dataset in full
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ifns_train.core import process
from ifns_train.core.errors import IfnsError
from ifns_train.core.root import default_registry_dir
from ifns_train.data.index import get_entry, index_path, load_index, table_path


def _registry_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry-dir",
        default=None,
        help="registry directory holding datasets_index.json (default: $IFNS_REGISTRY_DIR, "
        "else registry/ under $IFNS_ROOT or the project root)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ifns-data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="generate the embedded synthetic demo panel and register it in the dataset index",
    )
    _registry_arg(demo)
    demo.add_argument("--dataset-id", default="DS_DEMO_CORE_V1")
    demo.add_argument("--symbols", type=int, default=48, help="number of symbols (default 48)")
    demo.add_argument("--years", type=float, default=10.0, help="kept span in years (default 10)")
    demo.add_argument("--seed", type=int, default=2024)

    imp = sub.add_parser(
        "import-ohlcv",
        help="import daily OHLCV CSV/Parquet files (or folders of them) as a Stage 02 dataset",
        description="Read, check and repair daily OHLCV files, derive the Stage 02 features, "
        "labels and context columns, and register the table in the dataset index. Every repair "
        "is counted in the printed report; every problem of the files is listed in one error "
        "naming file, row, symbol and column, and nothing is written (see the README, 'Your own "
        "prices', and ifns_train/data/ohlcv/).",
    )
    imp.add_argument("paths", nargs="+", metavar="PATH", help="CSV/Parquet files or folders")
    imp.add_argument("--dataset-id", required=True, help="new dataset id, e.g. DS_MY_PRICES_V1")
    _registry_arg(imp)
    imp.add_argument(
        "--date-format",
        choices=["auto", "iso", "us"],
        default="auto",
        help="iso: YYYY-MM-DD or YYYYMMDD; us: MM/DD/YYYY; auto (default): whichever the "
        "column uses (day/month/year is refused)",
    )
    imp.add_argument(
        "--date-column",
        default=None,
        metavar="NAME",
        help="the date column, under any header (default: Date, Timestamp, ... or an unnamed "
        "first column of dates)",
    )
    imp.add_argument(
        "--symbol-column",
        default=None,
        help="name of the symbol column of long files (default: Symbol, Ticker, ... if "
        "present, else the file name)",
    )
    imp.add_argument(
        "--wide",
        action="store_true",
        help="the files hold a date column and one close column per symbol (the header is "
        "the symbol; a blank cell is no row)",
    )
    imp.add_argument(
        "--keep-jumps",
        action="append",
        default=[],
        metavar="SYMBOL",
        help="keep this symbol's split-like jumps as genuine moves (reported); repeatable; "
        "'all' for every symbol",
    )
    imp.add_argument(
        "--split",
        action="append",
        default=[],
        metavar="SYMBOL:YYYY-MM-DD:RATIO",
        help="a known split: the first date at the new price and the new shares per old share "
        "(2 for 2:1, 0.5 for 1:2); applied only where the data shows it; repeatable",
    )
    imp.add_argument(
        "--splits-file",
        default=None,
        metavar="FILE.csv",
        help="known splits, a CSV with the columns symbol, date, ratio",
    )
    imp.add_argument(
        "--adjust-splits",
        action="store_true",
        help="back-adjust prices (and volume inversely) before every detected split-like jump",
    )
    imp.add_argument(
        "--drop-symbol-on-error",
        action="store_true",
        help="leave out a symbol that fails a check (reported with the reason) instead of "
        "refusing the import",
    )
    imp.add_argument(
        "--min-history",
        type=int,
        default=None,
        help="fewest trading rows a symbol must have (default and minimum: 141)",
    )

    listing = sub.add_parser("list", help="list the datasets of the index")
    _registry_arg(listing)
    show = sub.add_parser("show", help="describe one dataset of the index")
    show.add_argument("dataset_id", metavar="ID")
    _registry_arg(show)
    show.add_argument("--json", action="store_true", help="print the index entry as JSON")
    return parser


def _run_demo(args: argparse.Namespace) -> None:
    # Imported here so that `--help` stays fast (pandas/numpy are not needed for it).
    from ifns_train.data.demo import write_demo

    entry = write_demo(
        args.registry_dir,
        dataset_id=args.dataset_id,
        n_symbols=args.symbols,
        n_years=args.years,
        seed=args.seed,
    )
    path = table_path(args.registry_dir, entry)
    first, last = entry["date_range"]
    print(
        f"{entry['dataset_id']} rows={entry['rows']} symbols={entry['symbols']} "
        f"dates={first}..{last} fingerprint={entry['fingerprint']} path={Path(path)}"
    )


def _run_import(args: argparse.Namespace) -> None:
    from ifns_train.data.ohlcv import ImportOptions, KnownSplit, format_report, import_ohlcv

    options = ImportOptions(
        date_format=args.date_format,
        symbol_column=args.symbol_column,
        date_column=args.date_column,
        wide=args.wide,
        adjust_splits=args.adjust_splits,
        keep_jumps=tuple(args.keep_jumps),
        splits=tuple(KnownSplit.parse(text) for text in args.split),
        splits_file=args.splits_file,
        drop_symbol_on_error=args.drop_symbol_on_error,
        min_history=args.min_history,
    )
    entry, report = import_ohlcv(args.paths, args.dataset_id, args.registry_dir, options)
    print(format_report(entry, report))
    print(f"  path: {Path(args.registry_dir) / entry['path']}")


def _describe_source(source: dict[str, Any]) -> str:
    if "importer" in source:
        return f"imported from {len(source.get('files', []))} file(s) by {source['importer']}"
    if "generator" in source:
        return f"generated by {source['generator']} (seed {source.get('seed')})"
    return "unknown"


def _run_list(args: argparse.Namespace) -> None:
    datasets = load_index(args.registry_dir)["datasets"]
    if not datasets:
        print(f"no datasets in {index_path(args.registry_dir)}")
        return
    for dataset_id in sorted(datasets):
        entry = datasets[dataset_id]
        first, last = entry.get("date_range", ["?", "?"])
        print(
            f"{dataset_id}  rows={entry.get('rows')} symbols={entry.get('symbols')} "
            f"dates={first}..{last} features={','.join(entry.get('feature_families', {}))} "
            f"labels={','.join(entry.get('label_families', {}))} "
            f"fingerprint={entry.get('fingerprint')}"
        )


def _symbol_names(args: argparse.Namespace, entry: dict[str, Any]) -> list[str] | None:
    import pyarrow.parquet as pq


    path = table_path(args.registry_dir, entry)
    if not path.exists():
        return None
    symbols = pq.read_table(path, columns=["symbol"]).column("symbol").unique()
    return sorted(str(s) for s in symbols.to_pylist())


def _run_show(args: argparse.Namespace) -> None:
    entry = get_entry(args.registry_dir, args.dataset_id)
    if args.json:
        print(json.dumps(entry, indent=2, sort_keys=True))
        return
    names = _symbol_names(args, entry)
    first, last = entry["date_range"]
    lines = [
        f"dataset: {entry['dataset_id']}",
        f"path: {table_path(args.registry_dir, entry)}"
        + ("" if names is not None else " (missing)"),
        f"fingerprint: {entry['fingerprint']}",
        f"rows: {entry['rows']}",
        f"date range: {first} .. {last}",
        f"symbols ({entry['symbols']}): "
        + (", ".join(names) if names is not None else "(table file missing)"),
        f"source: {_describe_source(entry.get('source', {}))}",
        "feature families:",
    ]
    for family, columns in entry["feature_families"].items():
        lines.append(f"  {family}: {', '.join(columns)}")
    lines.append("label families:")
    for family, meta in entry["label_families"].items():
        lines.append(
            f"  {family} ({meta.get('kind')}, {meta.get('horizon_days')} days): "
            f"{meta.get('description')}"
        )
    lines.append(f"context columns: {', '.join(entry.get('context_columns', []))}")
    if entry.get("absent_columns"):
        lines.append("absent columns:")
        lines += [f"  {c}: {why}" for c, why in entry["absent_columns"].items()]
    if entry.get("splits"):
        lines.append(
            "splits: " + ", ".join(f"{k} {v[0]}..{v[1]}" for k, v in entry["splits"].items())
        )
    report = entry.get("source", {}).get("import_report")
    if report:
        lines.append("import report:")
        lines.append("  repairs: " + ", ".join(f"{k}={v}" for k, v in report["repairs"].items()))
        lines.append(
            "  reported: " + ", ".join(f"{k}={v}" for k, v in report["reported"].items())
        )
        for symbol, why in report.get("symbols_dropped", {}).items():
            lines.append(f"  symbol dropped: {symbol}: {why}")
        for file in entry["source"].get("files", []):
            lines.append(f"  file: {file['path']} ({file['rows']} rows, sha256 {file['sha256']})")
    print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    process.freeze_at_exit()
    args = _parser().parse_args(argv)
    if args.registry_dir is None:
        args.registry_dir = str(default_registry_dir())
    try:
        if args.command == "demo":
            _run_demo(args)
        elif args.command == "import-ohlcv":
            _run_import(args)
        elif args.command == "list":
            _run_list(args)
        elif args.command == "show":
            _run_show(args)
    except IfnsError as exc:
        print(f"ifns-data: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
