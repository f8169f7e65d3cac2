"""Reliability diagrams: the reliability-curve data of metrics.json drawn for a reviewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or wanted
import matplotlib.pyplot as plt


def reliability_diagram(path: Path, title: str, curves: dict[str, list[dict[str, Any]]]) -> None:
    """One line per predictor: mean predicted P(up) against the observed up-rate, per bin."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    for name, bins in curves.items():
        if bins:
            ax.plot([b["mean_prob"] for b in bins], [b["frac_up"] for b in bins], marker="o",
                    label=f"{name} ({sum(b['count'] for b in bins)} rows)")
    ax.set(xlabel="predicted P(up)", ylabel="observed up-rate", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
