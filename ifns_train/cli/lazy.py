"""The imports deferred into functions, each with why. Every other import stands at the top of its
module; `tests/cli/test_lazy_imports.py` holds the code to this list both ways (no import in a
function that is not named here, no name here that no function imports).

What earns a place: a heavy library or wing that a console (ifns-admin, ifns-data, ifns-decide,
ifns-evaluate, ifns-predict, ifns-train) would otherwise load before it has parsed its arguments,
or that a run loads only on the path that needs it. Nothing here hides a circle: a module
imported lazily never imports its importer.
"""

from __future__ import annotations

_REGISTRY = ("SQLAlchemy and pydantic: the Admin console's help and argument errors need "
             "neither, and `ifns-admin models list` starts without the training stack")
_TRAINING = "torch and Lightning, after Hydra has parsed the command line"

LAZY_IMPORTS: dict[str, str] = {
    # The consoles: the wing a command runs, once its arguments are parsed.
    "ifns_train.registry": _REGISTRY,
    "ifns_train.registry.database": _REGISTRY,
    "ifns_train.run.train": _TRAINING,
    "ifns_train.run.reproduce": _TRAINING,
    "ifns_train.run.evaluation_run": _TRAINING,
    "ifns_train.run.reevaluation": "pandas and the evaluation standard, for one command only",
    "ifns_train.run.sweeps": "loaded by Hydra's sweep callback; read only to report a failure",
    "ifns_train.signals.scoring": _TRAINING,
    "ifns_train.sxe.mirror": "Jinja2 and the site's writer, for `ifns-admin mirror` only",
    "ifns_train.sxe.mirror.writer": "Jinja2 and the site's writer, for `ifns-admin mirror` only",
    "ifns_train.data.demo": "pandas and the generator, for `ifns-data demo` only",
    "ifns_train.data.ohlcv": "the importer's pandas and arch, for `ifns-data import-ohlcv` only",
    "ifns_train.data.reader": "pandas and pyarrow, to hash a table in a compliance audit only",
    "pyarrow.parquet": "pyarrow, for `ifns-data show` only",
    "sqlalchemy.exc": _REGISTRY,
    "lightning.fabric.utilities.exceptions": ("Lightning, only to recognise its error: a "
                                              "command that never trains does not load it"),
    "lightning.fabric.utilities.rank_zero": _TRAINING,
    # Pictures and heavy numerics, off the import of a training run (tests/cli/test_startup.py).
    "ifns_train.run.curves": "the pictures' numbers, only when a run records or upgrades",
    "ifns_train.run.curve_drawing": ("matplotlib, only when an image is drawn: "
                                     "evaluation.curves.images, a logger that takes images, "
                                     "`ifns-admin curves`, the Mirror's build"),
    "matplotlib.image": "matplotlib, only to send a picture to TensorBoard",
    "arch.bootstrap": "arch (statsmodels, scipy), only when an interval is bootstrapped",
    "scipy": "scipy, only for the AUC's rank statistics",
    "statsmodels.regression.linear_model": ("statsmodels, only for the Diebold-Mariano "
                                            "statistic of a champion against a challenger"),
    "pandas": "pandas, only where a table is written or read as a frame",
    "ifns_train.evaluation.classification": ("torch, only for the weighted log loss and "
                                             "calibration: importing the intervals stays light"),
    "ifns_train.evaluation.predictions": ("pandas, only where a model's decision table is read "
                                          "(registry.decision_table, for a search's PBO or a "
                                          "challenger): `models list` reads none"),
    "ifns_train.evaluation.performance_matrix": ("pandas, only where a search's test tables "
                                                 "are read (registry.searches)"),
    "ifns_train.evaluation.proxies": ("pandas, only to deflate a per-date series: the consoles "
                                      "deflate recorded moments without it"),
    # Not heavy: the standard library's TOML reader exists from Python 3.11 only.
    "tomllib": "Python 3.11+; on 3.10 the project's name is read by a pattern",
}
