"""Stage 02 data access: the dataset index, the demo dataset, and a run's data read from them.

Models reach data only through the dataset index, never by a file path, and every column a run
reads is proved against the index's fingerprint, so each model can be traced to its data.

- `__main__.py`: `ifns-data` (`python -m ifns_train.data`): demo, import-ohlcv, list, show.
- `index.py`: the dataset index: dataset ids -> Parquet tables, their families, fingerprints.
- `demo.py`: the embedded synthetic demo panel: deterministic, with a weak but real edge.
- `features.py`: feature families, forward labels and context tags, shared by demo and importer.
- `panel.py`: wide prices -> the long Stage 02 table, the one step demo and importer share.
- `symbols.py`: what a symbol may be: one closed alphabet wherever a symbol enters.
- `contract.py`: the data contract's checks on a table, chunk by chunk, before any row is used.
- `reader.py`: a table read in chunks into symbol-major arrays, checked and verified.
- `table.py`: a table's arrays in memory or memory-mapped (`Stored`, `Store`) and its `Table`.
- `cache.py`: a machine-local cache of verified tables, so a sweep reads a dataset once.
- `resolve.py`: a run's datasets: index -> the columns it needs -> contract -> time splits.
- `splits.py`: time splits with a purge and embargo of at least the label horizon, per symbol.
- `placebo.py`: the placebo control's labels: training and validation labels permuted per date.
- `chunks.py`: the chunked order of the train rows of a split too big for the shuffle buffer.
- `module.py`: the datamodule: rows as contiguous tensors once, batches as index slices.
- `ohlcv/`: the importer of one's own daily OHLCV files as a dataset (`ifns-data import-ohlcv`).
"""
