"""The SxE representation of Stage 03 (spec 9): the Admin console (`ifns-admin`, spec 9.2).

Admin is control-focused but grants no promotion power: it shows the registry and the
experiment log, records proposals to DRA, links experiments to SEL recommendations and DRA
decisions, and runs the registry's audit, doctor, export and migration. Applying a status
change is DRA's separate entry point, `ifns-decide` (ifns_train.cli.decide).

- `admin.py`: `ifns-admin`: the parser and the registry-wide commands (audit, doctor, export).
- `admin_models.py`: `ifns-admin models ...`: the Model Registry Console; proposals to DRA.
- `admin_experiments.py`: `ifns-admin experiments ...`: the Experiment Log Console.
- `common.py`: shared with `ifns-decide`: parsing, registry options, the run loop; no torch.
- `figures.py`: a model's or a run's figures from its record and `metrics.json`, rendered.
- `render.py`: rich output in which everything read from the registry is escaped.
- `mirror/`: the Mirror (spec 9.1): the read-only static site built from the registry.
"""
