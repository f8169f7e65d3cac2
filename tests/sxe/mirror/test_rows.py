"""The model rows' hyperparameters: the run's `model` config flattened, and only those that
differ between a family's models kept (so sweep trials can be told apart)."""

from __future__ import annotations

from ifns_train.sxe.mirror.rows import (
    HYPERPARAMETERS_AT,
    MODEL_COLUMNS,
    flat_hyperparameters,
    keep_differing,
)


def test_hyperparameters_are_flattened_to_cells() -> None:
    flat = flat_hyperparameters({"lr": 0.001, "hidden_sizes": [64, 32],
                                 "optimizer": {"name": "adamw", "betas": [0.9, 0.99]},
                                 "compile": False, "dropout": None})
    assert flat == {"model.lr": 0.001, "model.hidden_sizes": "[64, 32]",
                    "model.optimizer.name": "adamw", "model.optimizer.betas": "[0.9, 0.99]",
                    "model.compile": False, "model.dropout": None}


def test_only_the_hyperparameters_that_differ_are_kept() -> None:
    def row(params: dict[str, object]) -> list[object]:
        out: list[object] = [None] * len(MODEL_COLUMNS)
        out[HYPERPARAMETERS_AT] = flat_hyperparameters(params)
        return out

    rows = [row({"backbone": "mlp", "lr": 0.001, "hidden_sizes": [64, 32]}),
            row({"backbone": "mlp", "lr": 0.003, "hidden_sizes": [64, 32]}),
            row({"backbone": "mlp", "lr": 0.003, "hidden_sizes": [64, 32], "dropout": 0.1})]
    # backbone and hidden_sizes are shared; lr differs; dropout only some models have.
    assert keep_differing(rows) == ["model.dropout", "model.lr"]
    assert [r[HYPERPARAMETERS_AT] for r in rows] == [
        {"model.dropout": None, "model.lr": 0.001}, {"model.dropout": None, "model.lr": 0.003},
        {"model.dropout": 0.1, "model.lr": 0.003}]
    single = [row({"lr": 0.001})]  # one model: nothing differs
    assert keep_differing(single) == [] and single[0][HYPERPARAMETERS_AT] == {}
