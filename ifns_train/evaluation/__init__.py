"""Evaluation: pure metric functions (numpy arrays in, JSON-serialisable dicts out).

Kept free of Lightning and file I/O so the same functions score models, baselines and
regime slices identically, and their output can be written to the registry as-is.
Undefined values are ``None``, never NaN, so the JSON stays strict.

- `standard.py`: the evaluation standard: prediction tables in, the figures of `metrics.json` out.
- `predictions.py`: the prediction table saved with a model, from which any figure is recomputed.
- `report.py`: one split: the model and its baselines on the same rows, overall and per slice.
- `classification.py`: metrics of directional (binary up/down) models.
- `regression.py`: metrics of return forecasts: pooled accuracy and the information coefficient.
- `risk.py`: metrics of realised-volatility forecasts, QLIKE the headline loss.
- `cost.py`: metrics of trading-cost forecasts in basis points.
- `gating.py`: does a structure-aware overlay improve a directional signal by vetoing calls?
- `grouped.py`: grouped array operations: every slice of every context column in one pass.
- `ranking.py`: per-group figures that are not sums (AUC, ranks, percentiles), by integer sorts.
- `slices.py`: any metric function per value of a context column; the grouped figures' reference.
- `compare.py`: a model against baselines in one sign convention (positive: the model is better).
- `evidence.py`: beyond point figures: intervals, the IC's HAC t-statistic, trading proxies.
- `intervals.py`: confidence intervals from a block bootstrap over dates; a HAC t-statistic.
- `weighted_stats.py`: statistics as functions of date weights: the engine of `intervals`.
- `weighted_auc.py`: the AUC of date weights: exact pair matrix, or a score grid with its bound.
- `proxies.py`: trading proxies (spec 7.1), on non-overlapping holding periods.
- `panel.py`: each row's date, symbol and neighbours a horizon apart, once per split for every
  predictor's proxies.
- `selection.py`: the probabilistic and the deflated Sharpe ratio (selection among trials).
- `stability.py`: how much a figure moves across walk-forward folds and seeds (spec 7.2).
- `promotion.py`: the pre-DRA promotion checks (spec 7.3): evidence only, never a status change.
- `drift.py`: a feature's training distribution as a quantile sketch; PSI and KS against it.
- `curve_data.py`: the numbers of the pictures in a model's `curves/` (recorded as JSON by
  `run.curves`, drawn by `run.curve_drawing`).
- `attribution_view.py`: a model's recorded feature attribution read one way for the picture,
  the Mirror and Admin (`--depends-on`: which models lean on a feature family).
"""
