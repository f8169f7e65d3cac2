"""Import daily OHLCV files of your own as a Stage 02 dataset (`ifns-data import-ohlcv`).

Why an importer and not a loader: models reach data only through the dataset index, so real
prices become one immutable, fingerprinted Parquet table with the same feature families, label
families and context columns as the demo data (`ifns_train.data.panel`), and every model
trained on it can be traced to it.

Why these policies: ordinary public vendor files must import without hand edits, and nothing
may be guessed. Each oddity either has a documented repair with a safe default, counted in the
import report, or is a problem; every problem of the import is reported at once, and a failed
import writes nothing.

The steps, one module each:

- `options.py`: the options (`ImportOptions`), checked before any file is read; known splits.
- `read.py`: files and layouts (per symbol, long, ``--wide``) -> one array per field, checked.
- `columns.py`: which column is which: spellings, the date column, the symbol, wide files.
- `parse.py`: cells -> values: dates, symbols and numbers, with the cells that fail.
- `clean.py`: one (symbol, date)-ordered set of rows: placeholders, duplicates, volume, Adj Close.
- `jumps.py`: jumps in a symbol's closes: a split, a bad print or a large move, never guessed.
- `problems.py`: every problem collected and raised once (or ``--drop-symbol-on-error``).
- `report.py`: the import report: what was repaired or only reported, and the first rows of each.
- `derive.py`: features, labels, context and clusters in chunks of symbols; non-finite rows out.
- `build.py`: the steps in order, the problems settled in one place; the table and its metadata.
- `register.py`: the built table into the dataset index, or nothing at all.

Options (`ImportOptions`, `options`): ``--date-format``, ``--date-column``,
``--symbol-column``, ``--wide``, ``--adjust-splits``, ``--keep-jumps SYMBOL``,
``--split SYMBOL:DATE:RATIO``, ``--splits-file``, ``--drop-symbol-on-error``,
``--min-history``.
"""

from ifns_train.data.ohlcv.build import OhlcvDataset, build_ohlcv_dataset
from ifns_train.data.ohlcv.clean import OHLC_TOLERANCE
from ifns_train.data.ohlcv.columns import COLUMN_SPELLINGS, SOURCE_SUFFIXES
from ifns_train.data.ohlcv.derive import CHUNK_SYMBOLS, CLUSTER_BETA_EDGES
from ifns_train.data.ohlcv.jumps import LARGE_MOVE, SPLIT_FACTORS, SPLIT_TOLERANCE, TRANSIENT_ROWS
from ifns_train.data.ohlcv.options import (
    DATE_FORMATS,
    KEEP_ALL,
    MIN_HISTORY,
    ImportOptions,
    KnownSplit,
)
from ifns_train.data.ohlcv.problems import PROBLEM_LIMIT, OhlcvError
from ifns_train.data.ohlcv.register import IMPORTER_VERSION, import_ohlcv
from ifns_train.data.ohlcv.report import DETAIL_LIMIT, format_report

__all__ = [
    "CHUNK_SYMBOLS",
    "CLUSTER_BETA_EDGES",
    "COLUMN_SPELLINGS",
    "DATE_FORMATS",
    "DETAIL_LIMIT",
    "IMPORTER_VERSION",
    "KEEP_ALL",
    "LARGE_MOVE",
    "MIN_HISTORY",
    "OHLC_TOLERANCE",
    "PROBLEM_LIMIT",
    "SOURCE_SUFFIXES",
    "SPLIT_FACTORS",
    "SPLIT_TOLERANCE",
    "TRANSIENT_ROWS",
    "ImportOptions",
    "KnownSplit",
    "OhlcvDataset",
    "OhlcvError",
    "build_ohlcv_dataset",
    "format_report",
    "import_ohlcv",
]
