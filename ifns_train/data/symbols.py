"""What a symbol may be: one rule for every place a symbol enters (the importer's file names,
symbol columns, wide headers and options; the Stage 02 contract of a table).

Why a closed alphabet: symbols end up in file names, messages, reports and HTML, so one that
holds a path separator, '..', whitespace or markup would break or forge them. The alphabet is
that of vendor tickers: BRK.B, BRK-B, ^GSPC, EURUSD=X, ES=F, 7203.T, BTC-USD.
"""

from __future__ import annotations

import re

SYMBOL_RE = re.compile(r"[A-Za-z0-9._^=-]{1,32}")
SYMBOL_RULE = "1 to 32 letters, digits or . _ - ^ = (not only dots), e.g. BRK.B, ^GSPC, EURUSD=X"


def is_symbol(value: object) -> bool:
    return (isinstance(value, str) and SYMBOL_RE.fullmatch(value) is not None
            and value.strip(".") != "")
