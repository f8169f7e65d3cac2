"""`ifns-admin` / `python -m ifns_train.sxe.admin`: the Admin console of Stage 03 (spec 9.2).

  families                      families, roles and the count of models per status
  models list|show|compare      the Model Registry Console (ifns_train.sxe.admin_models)
  models propose                a promotion/rollback proposal to DRA; it changes nothing
  experiments search|show|link|mark   the Experiment Log Console (admin_experiments)
  jobs list|show                the prediction jobs and their drift reports (admin_jobs)
  audit [--model ID]            compliance (spec 8.2) of every model; exit 1 if any fails
  reproduce EXPERIMENT_ID       run an experiment again and compare its figures
  doctor [--repair]             what a crash or a hand edit left inconsistent
  export [--out DIR]            the spec's JSON documents from the database
  migrate [--from DIR]          import a registry of an earlier version once
  mirror [--out DIR]            write the Mirror: a static site of the registry (spec 9.1)
  curves MODEL_ID [--out DIR]   a model's pictures as PNG files, drawn from their JSON

Stage 03 grants no promotion power: applying a status change is DRA's `ifns-decide`.
Exit codes: 0 done, 1 the registry refused or found a problem, 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ifns_train.core import process
from ifns_train.core.errors import RegistryError
from ifns_train.sxe import admin_curves, admin_experiments, admin_jobs, admin_models
from ifns_train.sxe import render as r
from ifns_train.sxe.common import (
    EXIT_FAILED,
    EXIT_OK,
    MODEL_STATUSES,
    Parser,
    UsageError,
    add_registry_options,
    emit_json,
    open_registry,
    run,
    wants_json,
)

PROG = "ifns-admin"
REPRODUCE_DIR = Path("outputs") / "reproduce"
MIRROR_DIR = Path("outputs") / "mirror"


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    add_registry_options(common)
    parser = Parser(prog=PROG, description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("families", parents=[common],
                            help="families, roles and models per status")
    p.set_defaults(handler=cmd_families)
    admin_models.add_parsers(commands, common)
    admin_experiments.add_parsers(commands, common)
    admin_jobs.add_parsers(commands, common)

    p = commands.add_parser("audit", parents=[common],
                            help="compliance of every model (spec 8.2); exit 1 if any fails")
    p.add_argument("--model", metavar="ID", help="audit this model only")
    p.set_defaults(handler=cmd_audit)

    p = commands.add_parser("reproduce", parents=[common],
                            help="run an experiment again; exit 1 if a figure differs")
    p.add_argument("experiment_id")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help=f"where the run writes (default: {REPRODUCE_DIR}/<id>_<time>)")
    p.set_defaults(handler=cmd_reproduce)

    p = commands.add_parser("doctor", parents=[common],
                            help="stale runs, stray and missing folders, changed artifacts")
    p.add_argument("--repair", action="store_true",
                   help="mark stale runs failed and move stray folders under orphans/ "
                        "(nothing is deleted)")
    p.set_defaults(handler=cmd_doctor)

    p = commands.add_parser("export", parents=[common],
                            help="write model_registry.json and experiments_log.json")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="folder to write into (default: the registry folder)")
    p.set_defaults(handler=cmd_export)

    p = commands.add_parser("migrate", parents=[common],
                            help="import the JSON registry of an earlier version, once")
    p.add_argument("--from", dest="src", metavar="DIR", type=Path,
                   help="folder of the old documents (default: the registry folder)")
    p.set_defaults(handler=cmd_migrate)

    p = commands.add_parser("mirror", parents=[common],
                            help="write the Mirror, a static site of the registry and log")
    p.add_argument("--out", metavar="DIR", type=Path, default=MIRROR_DIR,
                   help=f"folder of the site, made or brought up to date (default: {MIRROR_DIR})")
    p.set_defaults(handler=cmd_mirror)
    admin_curves.add_parsers(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    process.freeze_at_exit()
    return run(PROG, build_parser(), lambda args: args.handler(args), argv)


# --- families --------------------------------------------------------------------------------
def cmd_families(args: argparse.Namespace) -> int:
    from ifns_train.registry import model_registry

    reg = open_registry(args)
    try:
        families = {f.family_id: f for f in model_registry.family_records(reg)}
        counts = model_registry.status_counts(reg)
    finally:
        reg.close()
    statuses = list(MODEL_STATUSES) + sorted({s for c in counts.values() for s in c}
                                             - set(MODEL_STATUSES))
    doc: list[dict[str, Any]] = []
    for family_id in sorted(set(families) | set(counts)):
        fam = families.get(family_id)
        doc.append({
            "family_id": family_id, "name": fam.name if fam else None,
            "description": fam.description if fam else None,
            "roles": fam.roles if fam else [], "task": fam.task if fam else None,
            "prediction_type": fam.prediction_type if fam else None,
            "counts": {s: counts.get(family_id, {}).get(s, 0) for s in statuses},
        })
    if wants_json(args):
        emit_json({"families": doc})
        return EXIT_OK
    out = r.console()
    if not doc:
        out.print("no families yet: a first training run records its family")
        return EXIT_OK
    out.print(r.table("Model families", [
        "family", "roles", "description", "prediction type", *statuses, "total"], [
        [r.esc(f["family_id"]), r.joined(f["roles"]), r.esc(f["description"]),
         r.esc(f["prediction_type"]), *[str(f["counts"][s]) for s in statuses],
         str(sum(f["counts"].values()))] for f in doc]))
    return EXIT_OK


# --- audit -----------------------------------------------------------------------------------
def cmd_audit(args: argparse.Namespace) -> int:
    from ifns_train.registry import audit

    reg = open_registry(args)
    try:
        findings = audit.audit_all(reg, args.model)  # an invalid record is a finding
    finally:
        reg.close()
    failed = [f for f in findings if not f.compliant]
    if wants_json(args):
        emit_json({"compliant": not failed, "models": len(findings),
                   "non_compliant": len(failed),
                   "findings": [f.as_dict() for f in findings]})
        return EXIT_FAILED if failed else EXIT_OK
    out = r.console()
    if not findings:
        out.print("no models to audit")
        return EXIT_OK
    out.print(r.table("Compliance audit (spec 8.2)", ["model_id", "status", "compliant",
                                                       "reasons"], [
        [r.esc(f.model_id), r.esc(f.status), r.yes_no(f.compliant),
         "\n".join(r.esc(x) for x in f.reasons) or "-"] for f in findings]))
    out.print(f"{len(findings) - len(failed)} of {len(findings)} model(s) compliant"
              + (f"; {len(failed)} not eligible for production use" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


# --- reproduce -------------------------------------------------------------------------------
def cmd_reproduce(args: argparse.Namespace) -> int:
    from ifns_train.registry import log

    reg = open_registry(args)
    try:
        log.get(reg, args.experiment_id)  # a quick error before the heavy imports
        try:
            from ifns_train.run.reproduce import reproduce
        except ModuleNotFoundError as exc:
            if exc.name != "ifns_train.run.reproduce":
                raise
            raise RegistryError("reproduce is not available: this installation has no "
                                "ifns_train.run.reproduce") from None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        out_dir = args.out or REPRODUCE_DIR / f"{args.experiment_id}_{stamp}"
        # The run's progress and logs go to stderr: stdout is the result (one JSON document
        # with --json).
        with contextlib.redirect_stdout(sys.stderr):
            result = reproduce(reg, args.experiment_id, out_dir)
    finally:
        reg.close()
    code = EXIT_OK if result.get("status") == "matches" else EXIT_FAILED
    if wants_json(args):
        emit_json(result)
        return code
    out = r.console()
    figures = sorted(result.get("figures") or [], key=lambda f: bool(f.get("match")))
    out.print(r.table(
        f"Reproduction {r.esc(result.get('reproduction_id'))} of "
        f"{r.esc(result.get('experiment_id'))}", ["figure", "recorded", "reproduced", "match"],
        [[r.esc(f.get("name")), r.num(f.get("recorded"), digits=6),
          r.num(f.get("reproduced"), digits=6), r.yes_no(f.get("match"))] for f in figures]))
    differ = sum(1 for f in figures if not f.get("match"))
    out.print("every figure matches" if code == EXIT_OK else
              f"[red]differs[/red]: {differ} of {len(figures)} figure(s) differ")
    return code


# --- doctor ----------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    from ifns_train.registry import doctor

    reg = open_registry(args)
    try:
        report = doctor.diagnose(reg)
        after = None
        if args.repair and not report.clean:
            doctor.repair(reg, report)
            after = doctor.diagnose(reg)
    finally:
        reg.close()
    final = after if after is not None else report
    if wants_json(args):
        emit_json({"report": report.as_dict(), "repaired": report.repaired,
                   "after_repair": after.as_dict() if after is not None else None,
                   "clean": final.clean})
        return EXIT_OK if final.clean else EXIT_FAILED
    out = r.console()
    render_report(out, report)
    if args.repair:
        r.heading(out, "Repaired")
        for line in report.repaired or ["nothing to repair"]:
            out.print(f"  - {r.esc(line)}")
    if final.clean:
        out.print("[green]clean[/green]" + (" after repair" if after is not None else ""))
    elif after is not None:
        r.heading(out, "Remaining after repair (not repairable by doctor)")
        render_report(out, after, problems_only=True)
    else:
        out.print("[red]not clean[/red]: run `ifns-admin doctor --repair` to mark stale runs "
                  "failed and move stray folders under orphans/; the rest it only reports")
    return EXIT_OK if final.clean else EXIT_FAILED


def render_report(out: Any, report: Any, problems_only: bool = False) -> None:
    runs = ["experiment_id", "host", "pid", "started"]
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        ("Stale runs (process gone)", runs, [
            [r.esc(x["experiment_id"]), r.esc(x["host"]), r.esc(x["pid"]),
             r.ts(x["started_ts"])] for x in report.stale_runs]),
        ("Staging folders (left by a run that died)", ["folder"],
         [[r.esc(x)] for x in report.staging_folders]),
        ("Orphan folders (no record claims them)", ["folder"],
         [[r.esc(x)] for x in report.orphan_folders]),
        ("Records without folder", ["model_id", "artifact_path"], [
            [r.esc(x["model_id"]), r.esc(x["artifact_path"])]
            for x in report.missing_folders]),
        ("Hash mismatches", ["model_id", "problem"], [
            [r.esc(x["model_id"]), r.esc(x["problem"])] for x in report.hash_mismatches]),
        ("Invalid records (fail validation)", ["record", "id", "reason"], [
            [r.esc(x["subject"]), r.esc(x["id"]), r.esc(x["reason"])]
            for x in report.invalid_records]),
        ("Model status not the one its history says", ["model_id", "status", "history",
                                                       "problem"], [
            [r.esc(x["model_id"]), r.esc(x["status"]), r.esc(x["history_status"] or "-"),
             r.esc(x["problem"])] for x in report.status_disagreements]),
        ("Completed experiments without their model", ["experiment_id", "status", "kind",
                                                       "proposed model"], [
            [r.esc(x["experiment_id"]), r.esc(x["status"]), r.esc(x["kind"]),
             r.esc(x["proposed_model_id"])] for x in report.experiments_without_model]),
        ("Append-only guards missing", ["table", "trigger", "problem"], [
            [r.esc(x["table"]), r.esc(x["guard"]), r.esc(x["problem"])]
            for x in report.missing_guards]),
        ("Datasets changed under their index entry", ["dataset_id", "models", "problem"], [
            [r.esc(x["dataset_id"] or "-"), str(x["models"]), r.esc(x["problem"])]
            for x in report.changed_datasets]),
    ]
    if not problems_only:
        sections.append(("Running (alive, or on another host: not judged)", [*runs, "alive"], [
            [r.esc(x["experiment_id"]), r.esc(x["host"]), r.esc(x["pid"]),
             r.ts(x["started_ts"]), "unknown" if x.get("alive") is None else r.yes_no(
                 x["alive"])] for x in report.running]))
    for title, columns, rows in sections:
        if rows:
            out.print(r.table(f"{title}: {len(rows)}", columns, rows))
        elif not problems_only:
            out.print(f"[bold]{title}[/bold]: none")


# --- export, migrate -------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from ifns_train.registry import documents

    reg = open_registry(args)
    try:
        paths = documents.export(reg, args.out)
    finally:
        reg.close()
    if wants_json(args):
        emit_json({"written": [str(p) for p in paths]})
        return EXIT_OK
    out = r.console()
    for path in paths:
        out.print(f"wrote {r.esc(path)}")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from ifns_train.registry import documents

    reg = open_registry(args, create=True)
    try:
        counts = documents.migrate(reg, args.src)
    finally:
        reg.close()
    if wants_json(args):
        emit_json({"imported": counts, "registry": reg.shown_url()})
        return EXIT_OK
    r.console().print(f"imported {counts['experiments']} experiment(s), {counts['models']} "
                      f"model(s) and {counts['families']} family(ies) into "
                      f"{r.esc(reg.shown_url())}")
    return EXIT_OK


# --- mirror ----------------------------------------------------------------------------------
def cmd_mirror(args: argparse.Namespace) -> int:
    from ifns_train.sxe.mirror import site
    from ifns_train.sxe.mirror.writer import MANIFEST

    out = args.out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out}: not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise UsageError(f"--out {args.out}: a folder with other files in it (no {MANIFEST}); "
                         "choose a new or empty folder, or an earlier Mirror's")
    reg = open_registry(args)
    try:
        if reg.dir.resolve() in (out, *out.parents):
            raise UsageError(f"--out {args.out}: inside the registry folder {reg.dir}; "
                             "the site goes elsewhere")
        report = site.build(reg, out)
    finally:
        reg.close()
    if wants_json(args):
        emit_json(report.as_dict())
        return EXIT_OK
    doc = report.as_dict()
    for reason in doc["invalid_records"]:
        r.console().print(f"mirror: shown as invalid: {r.esc(reason)}", soft_wrap=True)
    r.console().print(
        f"mirror: {doc['models']} model(s), {doc['experiments']} experiment(s); "
        f"{doc['files_written']} file(s) written, {doc['files_unchanged']} unchanged, "
        f"{doc['pages_skipped']} model page(s) up to date, in {doc['seconds']} s: "
        f"{r.esc((out / 'index.html').as_uri())}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
