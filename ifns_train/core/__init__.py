"""What every wing uses and which uses no wing: errors, atomic files, the calendar, the root.

- `errors.py`: the user-facing errors, each one clear line naming what is at fault.
- `user_errors.py`: such an error as one line and exit code 1 in a Hydra console or sweep.
- `files.py`: atomic writes and locked JSON documents, with the modes open() would give.
- `calendar.py`: the trading calendar's one constant.
- `root.py`: the project root, where `registry/`, `outputs/` and the user's `conf/` live.
"""
