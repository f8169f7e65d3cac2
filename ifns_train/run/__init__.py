"""The run lifecycle: from a composed config to a recorded experiment (and a candidate model).

- `plan.py`: the config checks across fields, run before any work.
- `build.py`: data, module, trainer and datamodule from the config (reused by new-data
  evaluation and the benchmarks).
- `train.py`: `train(cfg)`: companions, then the main run, recorded.
- `resume.py`: `ckpt_path` (continue an interrupted run) and `init_from` (a fine-tune).
- `reproduce.py`: run a recorded experiment again and compare figure by figure.
- `companions.py`: walk-forward folds, extra seeds and the placebo as configs.
- `sweeps.py`: what a multirun does with a failed trial; the verdict on a sweep.
- `context.py`: what one run carries from start to record.
- `recorder.py`: the publisher: predictions, evaluation, artifacts, registry records.
- `timing.py`: the phase clock and the callback that marks the fit.
- `curves.py`: the curve and reliability figures written next to a model.
- `log_figures.py`: the figures sent to the run's Lightning loggers.
- `provenance.py`: seeds, code and package versions, the config hash.
- `evaluation_run.py`: a registered model evaluated on new data (`ifns-evaluate dataset.id=`).
- `reevaluation.py`: a registered model's figures recomputed from its saved predictions.
"""
