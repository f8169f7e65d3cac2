"""The script a careful user would write instead of `python -m ifns_train`: the default model
(dir_core's MLP) on the same Stage 02 table, rows, schedule and batches, in bare Lightning.

    python benchmarks/peer_lightning.py SPEC.json

`benchmarks/bench_peer.py` writes SPEC.json from a default run's record (the table, each
split's first and last date after the purge, the feature columns, the label, the model's
settings, the batch size and the epochs that run trained) and times this script against the
run, whole process against whole process. Careful means: the table read once with pyarrow,
features standardised on the training rows, each batch an index slice of tensors built once
(no per-sample `DataLoader`), validation every epoch with the best and last checkpoints kept
and early stopping, as the run's default callbacks do, then the test AUC of the best weights
and the test predictions saved. It imports nothing of ifns_train: it is the yardstick.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()

import lightning.pytorch as pl  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402
from torch import nn  # noqa: E402
from torchmetrics.functional.classification import binary_auroc  # noqa: E402


class Batches:
    """Index-slice batches of tensors built once: shuffled each epoch for training."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch: int, shuffle: bool) -> None:
        self.x, self.y, self.batch, self.shuffle = x, y, batch, shuffle

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch)

    def __iter__(self) -> Any:
        order = torch.randperm(len(self.y)) if self.shuffle else torch.arange(len(self.y))
        for start in range(0, len(self.y), self.batch):
            index = order[start:start + self.batch]
            yield self.x[index], self.y[index]


class Direction(pl.LightningModule):
    def __init__(self, n_in: int, hidden: list[int], dropout: float, lr: float,
                 weight_decay: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for size in hidden:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))
        self.lr, self.weight_decay = lr, weight_decay
        self.loss = nn.BCEWithLogitsLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def training_step(self, batch: Any, _: int) -> torch.Tensor:
        loss = self.loss(self(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, _: int) -> None:
        self.log("val_loss", self.loss(self(batch[0]), batch[1]))

    def predict_step(self, batch: Any, _: int) -> torch.Tensor:
        return torch.sigmoid(self(batch[0]))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    imported = time.perf_counter()
    pl.seed_everything(spec["seed"], verbose=False)
    columns = ["date", *spec["features"], spec["label"]]
    frame = pq.read_table(spec["table"], columns=columns).to_pandas()
    frame = frame.dropna(subset=[spec["label"]])
    dates = frame["date"].astype("datetime64[ns]")
    parts = {}
    for split, (first, last) in spec["splits"].items():
        rows = frame[(dates >= first) & (dates <= last)]
        parts[split] = (torch.tensor(rows[spec["features"]].to_numpy("float32")),
                        torch.tensor(rows[spec["label"]].to_numpy("float32")))
    mean, std = parts["train"][0].mean(0), parts["train"][0].std(0).clamp_min(1e-12)
    parts = {s: ((x - mean) / std, y) for s, (x, y) in parts.items()}
    model = Direction(len(spec["features"]), spec["hidden_sizes"], spec["dropout"], spec["lr"],
                      spec["weight_decay"])
    out = Path(spec["output_dir"])
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=spec["epochs"], deterministic=True,
        gradient_clip_val=spec["gradient_clip_val"], log_every_n_steps=spec["log_every_n_steps"],
        num_sanity_val_steps=0, enable_model_summary=False, default_root_dir=out,
        logger=CSVLogger(out, name="csv", version=""),
        callbacks=[ModelCheckpoint(dirpath=out / "checkpoints", monitor="val_loss", mode="min",
                                   save_top_k=1, filename="best", save_last=True),
                   EarlyStopping(monitor="val_loss", mode="min", patience=spec["patience"])])
    batch = spec["batch_size"]
    data = time.perf_counter()
    trainer.fit(model, Batches(*parts["train"], batch, True), Batches(*parts["val"], batch, False))
    fitted = time.perf_counter()
    best = Direction.load_from_checkpoint(trainer.checkpoint_callback.best_model_path,
                                          n_in=len(spec["features"]),
                                          hidden=spec["hidden_sizes"], dropout=spec["dropout"],
                                          lr=spec["lr"], weight_decay=spec["weight_decay"])
    prob = torch.cat(trainer.predict(best, Batches(*parts["test"], batch, False)))
    auc = float(binary_auroc(prob, parts["test"][1].long()))
    torch.save(prob, out / "predictions_test.pt")
    done = time.perf_counter()
    print(f"PEER auc {auc:.4f} imports {imported - T0:.2f} data {data - imported:.2f} "
          f"fit {fitted - data:.2f} predict {done - fitted:.2f}", flush=True)


if __name__ == "__main__":
    main()
