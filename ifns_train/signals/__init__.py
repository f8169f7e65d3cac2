"""The signal contract: what Stage 03 hands to later stages, and how it is checked.

- `contract.py`: the signal table's schema, version and the checks a reader runs.
- `scoring.py`: registered models scored on a dataset into one signal table, the job logged.
- `drift_gate.py`: the scored rows against each model's training rows; warn, refuse env=live.
"""
