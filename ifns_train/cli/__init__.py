"""The consoles' entry points, one module per command; each parses its arguments and hands over
to a wing (the run, the signals, the registry), importing heavy wings only once parsed.

- `train.py`: `ifns-train` (`python -m ifns_train`), the Hydra entry point of a run.
- `evaluate.py`: `ifns-evaluate`, a registered model's figures again or on new data.
- `decide.py`: `ifns-decide`, a lifecycle decision under the promotion gate.
- `predict.py`: `ifns-predict`, signals from an approved model.
- `lazy.py`: the imports deferred into functions, each with why; a test holds the code to it.
"""
