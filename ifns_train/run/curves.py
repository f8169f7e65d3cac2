"""The pictures of a model's `curves/` folder: `<name>.json`, the numbers of each picture,
recorded and hashed with the model; `<name>.png`, its image, drawn from that JSON alone.

`write_curves` is the one writer, called wherever a model's metrics.json is written (the
recorder at training, `ifns-evaluate` when it upgrades the figures, an evaluation on new data):
for each evaluated split, the pictures of its metric set (`evaluation.curve_data.PICTURES`),
each a JSON holding exactly what is drawn (with the title, the axis labels, its `kind`, the
drawing that renders it, and a scatter's subsampled points), written atomically; the test split
adds the pictures of `curve_data.TEST_PICTURES`. `write_learning_curves` writes the one picture
of a whole run (the recorder alone: it needs the fit's losses); an evaluation with an
`attribution` adds `feature_attribution` (`run.attribution_curve`). A picture whose numbers
cannot be built is a warning and is left out, never the run's failure.

Drawing cost a default run most of its recording phase (about 0.2 s a picture, and 0.3 s to
import matplotlib), for images that the spec's readers can have from the JSON later: so a run
writes the JSON only, and the images are rendered outside it (`run.curve_drawing.render`, by
`ifns-admin curves` and the Mirror's build; for TensorBoard or MLflow, the reliability diagrams
in memory by `run.log_figures`). With `evaluation.curves.images=true` the run draws each PNG
beside its JSON, hashed with it, as before; without, a PNG left by an earlier drawing of the
same picture is removed, so the folder never holds an image of other numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ifns_train.core.files import atomic_write_bytes, json_bytes
from ifns_train.evaluation.curve_data import PICTURES, TEST_PICTURES, Picture
from ifns_train.evaluation.learning_curve import learning_curve_data
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.run.attribution_curve import attribution_picture

log = logging.getLogger("ifns_train")


def write_curves(folder: Path, evaluation: Mapping[str, Any],
                 tables: Mapping[str, PredictionArrays], *, images: bool, sync: bool = True
                 ) -> list[str]:
    """Write every picture of every split of `evaluation` that has a table into `folder`
    (`images`: draw each PNG too, `evaluation.curves.images`; `sync=False`: no sync per file,
    for a staged folder synced whole before its rename, `core.files.sync_folder`); returns
    the stems written."""
    spec = evaluation.get("evaluation", {})
    written = []
    for split, report in evaluation.get("splits", {}).items():
        arrays = tables.get(split)
        if arrays is None:
            continue
        metric_set = report.get("metric_set")
        builds = (*PICTURES.get(metric_set, ()),
                  *(TEST_PICTURES.get(metric_set, ()) if split == "test" else ()))
        for build in builds:
            try:
                picture = build(split, arrays, report, spec)
                write_picture(folder, picture, images=images, sync=sync)
            except Exception as exc:  # a picture is a view of the figures, never a failure
                log.warning("curves: %s on the %s split not drawn (%s: %s)", build.__name__,
                            split, type(exc).__name__, str(exc).strip()[:300])
                continue
            written.append(picture.name)
    if evaluation.get("attribution"):  # the test split's, put there by the recorder
        try:
            picture = attribution_picture(evaluation["attribution"])
            write_picture(folder, picture, images=images, sync=sync)
            written.append(picture.name)
        except Exception as exc:  # a picture is a view of the figures, never a failure
            log.warning("curves: feature attribution not drawn (%s: %s)", type(exc).__name__,
                        str(exc).strip()[:300])
    return written


def write_learning_curves(folder: Path, history: Mapping[int, Mapping[str, float]],
                          chosen_epoch: int | None, *, images: bool, sync: bool = True
                          ) -> str | None:
    """`learning_curves.json` (and `.png` with `images`): one per run (not per split);
    returns the stem, or None when it could not be written (a warning, as for every
    picture). `sync` as in `write_curves`."""
    data = learning_curve_data(history, chosen_epoch)
    picture = Picture("learning_curves", "learning_curves", {
        "title": "learning curves" + ("" if chosen_epoch is None
                                      else f", weights kept from epoch {chosen_epoch}"),
        "xlabel": "epoch", "ylabel": "loss (epoch mean)", **data})
    try:
        write_picture(folder, picture, images=images, sync=sync)
    except Exception as exc:  # a picture is a view of the figures, never a failure
        log.warning("curves: learning curves not drawn (%s: %s)", type(exc).__name__,
                    str(exc).strip()[:300])
        return None
    return picture.name


def picture_json(picture: Picture) -> dict[str, Any]:
    """What `<name>.json` holds: the picture's numbers and the drawing that renders them."""
    return {"kind": picture.kind, **picture.data}


def write_picture(folder: Path, picture: Picture, *, images: bool, sync: bool = True
                  ) -> None:
    """`<name>.json`, and with `images` `<name>.png` drawn from it, each replaced atomically;
    both are made in memory first (the JSON encoded once), so a picture that fails leaves no
    file. `sync` as in `write_curves`."""
    doc = picture_json(picture)
    text = json_bytes(doc)  # refuses NaN before anything is written
    image = None
    if images:
        from ifns_train.run.curve_drawing import render  # matplotlib: only to draw

        image = render(doc)
    png = folder / f"{picture.name}.png"
    if image is not None:
        atomic_write_bytes(png, image, sync)
    else:
        png.unlink(missing_ok=True)  # an image of earlier numbers (an upgrade) goes
    atomic_write_bytes(folder / f"{picture.name}.json", text, sync)


def images_of(config: Mapping[str, Any] | None) -> bool:
    """`evaluation.curves.images` of a recorded run's config, for the evaluations of its model
    (`ifns-evaluate`, new data): a config recorded before the switch existed asked for none."""
    curves = ((config or {}).get("evaluation") or {}).get("curves") or {}
    return bool(curves.get("images"))
