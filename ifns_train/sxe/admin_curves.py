"""`ifns-admin curves MODEL_ID [--out DIR]`: a model's pictures as PNG files, for a reviewer.

A run records each picture's numbers (`curves/<name>.json`) and no image (`run.curves`: drawing
cost a run most of its recording), so the images are made here, from the recorded JSON alone,
by the one drawing of every picture (`run.curve_drawing.render`), into DIR (default
`./curves-<MODEL_ID>/`): `<name>.png` for each picture. A PNG recorded in the artifact (a model
recorded before the JSON carried its drawing, or with `evaluation.curves.images=true`) is
copied as it is. Every file read is checked against the model's recorded hashes first, as
`ifns-evaluate` and `ifns-predict` check theirs: a changed file is refused, not drawn.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ifns_train.core.errors import RegistryError
from ifns_train.core.files import atomic_write_bytes
from ifns_train.sxe import render as r
from ifns_train.sxe.common import EXIT_OK, emit_json, open_registry, wants_json

CURVES = "curves/"  # the pictures' folder in an artifact (its hashes name files under it)


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("curves", parents=[common],
                            help="a model's pictures as PNG files, drawn from their JSON")
    p.add_argument("model_id")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="folder to write into (default: ./curves-<MODEL_ID>/)")
    p.set_defaults(handler=cmd_curves)


def pictures(hashes: dict[str, str]) -> dict[str, str]:
    """Each picture of the recorded `curves/` -> the file it is made from: its PNG where one
    was recorded, else its JSON."""
    out: dict[str, str] = {}
    for name in sorted(hashes):
        stem, _, ext = name[len(CURVES):].rpartition(".")
        if name.startswith(CURVES) and ext in ("png", "json"):
            if ext == "png" or stem not in out:
                out[stem] = name
    return out


def draw_all(folder: Path, hashes: dict[str, str], model_id: str, out: Path
             ) -> list[dict[str, str]]:
    """Write every picture of the artifact `folder` into `out`; what was written, from what."""
    from ifns_train.registry import artifacts

    sources = pictures(hashes)
    if not sources:
        raise RegistryError(f"model {model_id}: no pictures recorded (its artifact hashes "
                            "name no curves/ file)")
    artifacts.verify(folder, hashes, model_id, only=tuple(sources.values()))
    from ifns_train.run.curve_drawing import render  # matplotlib: only to draw

    done = []
    for stem, source in sources.items():
        raw = (folder / source).read_bytes()
        if source.endswith(".json"):
            try:
                raw = render(json.loads(raw))
            except Exception as exc:  # one line naming the picture, not a traceback
                raise RegistryError(f"model {model_id}: {source} cannot be drawn "
                                    f"({type(exc).__name__}: {exc})") from None
        target = out / f"{stem}.png"
        atomic_write_bytes(target, raw, sync=False)
        done.append({"name": stem, "file": str(target),
                     "from": "json" if source.endswith(".json") else "png"})
    return done


def cmd_curves(args: argparse.Namespace) -> int:
    from ifns_train.registry import model_registry

    reg = open_registry(args)
    try:
        record = model_registry.get(reg, args.model_id)
        folder = reg.dir / record.artifact_path
    finally:
        reg.close()
    out = (args.out or Path(f"curves-{record.model_id}")).expanduser()
    start = time.perf_counter()
    done = draw_all(folder, record.artifact_hashes, record.model_id, out)
    seconds = round(time.perf_counter() - start, 3)
    if wants_json(args):
        emit_json({"model_id": record.model_id, "out": str(out), "pictures": done,
                   "seconds": seconds})
        return EXIT_OK
    drawn = sum(d["from"] == "json" for d in done)
    r.console().print(
        f"{len(done)} picture(s) of {r.esc(record.model_id)} in {r.esc(out)}: {drawn} drawn "
        f"from their JSON, {len(done) - drawn} recorded PNG(s) copied, in {seconds} s",
        soft_wrap=True)
    return EXIT_OK
