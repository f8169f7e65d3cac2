"""`python -m ifns_train.data` / `ifns-data`: dataset utilities (for now, the demo dataset)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ifns_train.errors import IfnsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ifns-data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="generate the embedded synthetic demo panel and register it in the dataset index",
    )
    demo.add_argument(
        "--registry-dir",
        default=os.environ.get("IFNS_REGISTRY_DIR", "registry"),
        help="registry directory holding datasets_index.json (default: $IFNS_REGISTRY_DIR "
        "or ./registry)",
    )
    demo.add_argument("--dataset-id", default="DS_DEMO_CORE_V1")
    demo.add_argument("--symbols", type=int, default=48, help="number of symbols (default 48)")
    demo.add_argument("--years", type=float, default=10.0, help="kept span in years (default 10)")
    demo.add_argument("--seed", type=int, default=2024)
    return parser


def _run_demo(args: argparse.Namespace) -> None:
    # Imported here so that `--help` stays fast (pandas/numpy are not needed for it).
    from ifns_train.data.demo import write_demo
    from ifns_train.data.index import table_path

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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            _run_demo(args)
    except IfnsError as exc:
        print(f"ifns-data: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
