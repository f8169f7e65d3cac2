"""`ifns-admin jobs ...`: the prediction jobs `ifns-predict` logged: who scored which models on
which data, in which environment, and how far the scored rows lay from each model's training
rows (the drift report of `signals.drift_gate`: PSI and KS per feature, overall and per regime;
a job logged before drift was kept shows none)."""

from __future__ import annotations

import argparse
from typing import Any

from ifns_train.sxe import render as r
from ifns_train.sxe.common import emit_json, open_registry, positive_int, wants_json

BAND_STYLE = {"hard": "bold red", "soft": "yellow", "ok": "green", "none": "red"}
REGIME_WORST = 3  # features per regime shown by `jobs show`


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    jobs = commands.add_parser("jobs", parents=[common], help="the prediction jobs",
                               description=__doc__)
    sub = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", parents=[common], help="prediction jobs, newest first")
    p.add_argument("--model", metavar="ID", help="jobs that scored this model")
    p.add_argument("--limit", type=positive_int, default=50, help="at most N jobs (50)")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", parents=[common], help="one job with its drift report")
    p.add_argument("job_id")
    p.set_defaults(handler=cmd_show)


def worst_of(job: dict[str, Any]) -> dict[str, Any] | None:
    """The job's worst feature over its models, {"model_id", "feature", "psi", "ks", "band"};
    None for a job logged before drift was kept or whose models had no reference."""
    found = [{"model_id": m, **d["drift"]["worst"][0]}
             for m, d in ((job.get("details") or {}).get("models") or {}).items()
             if (d.get("drift") or {}).get("worst")]
    return max(found, key=lambda w: w["psi"] or 0.0) if found else None


def banded(band: Any) -> str:
    style = BAND_STYLE.get(str(band))
    return f"[{style}]{r.esc(band)}[/{style}]" if style else r.esc(band)


def worst_text(job: dict[str, Any]) -> str:
    """The job's worst drift in a cell: "PSI 0.83 vol_20d (hard)", or why there is none."""
    worst = worst_of(job)
    if worst is not None:
        return f"PSI {r.num(worst['psi'], digits=3)} {r.esc(worst['feature'])} " \
               f"({banded(worst['band'])})"
    models = (job.get("details") or {}).get("models") or {}
    if any((d.get("drift") or {}).get("reference") is False for d in models.values()):
        return "[red]no reference[/red]"
    return r.NA


# --- list ------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from ifns_train.registry import jobs

    reg = open_registry(args)
    try:
        found = jobs.jobs(reg, model_id=args.model, limit=args.limit)
    finally:
        reg.close()
    if wants_json(args):
        emit_json({"filters": {"model": args.model, "limit": args.limit}, "count": len(found),
                   "jobs": [{**j, "worst_drift": worst_of(j)} for j in found]})
        return 0
    out = r.console()
    if not found:
        out.print("no prediction jobs match")
        return 0
    rows = [[r.esc(j["job_id"]), r.ts(j["started_ts"]), r.esc(j["env"]),
             r.esc(j["dataset_id"]), r.joined(j["model_ids"]), r.num(j["rows"]),
             worst_text(j) + (" [bold]allow_drift[/bold]"
                              if (j.get("details") or {}).get("allow_drift") else "")]
            for j in found]
    out.print(r.table(f"{len(found)} prediction job(s), newest first", [
        "job_id", "started", "env", "dataset", "models", "rows", "worst drift"], rows,
        no_wrap=(0, 1)))
    return 0


# --- show ------------------------------------------------------------------------------------
def feature_rows(worst: list[dict[str, Any]]) -> list[list[str]]:
    return [[r.esc(w["feature"]), r.num(w["psi"], digits=3), r.num(w["ks"], digits=3),
             banded(w["band"])] for w in worst]


def cmd_show(args: argparse.Namespace) -> int:
    from ifns_train.registry import jobs

    reg = open_registry(args)
    try:
        job = jobs.get_job(reg, args.job_id)
    finally:
        reg.close()
    if wants_json(args):
        emit_json({**job, "worst_drift": worst_of(job)})
        return 0
    out = r.console()
    details = job.get("details") or {}
    out.print(r.fields(f"Prediction job {r.esc(job['job_id'])}", [
        ("actor", r.esc(job["actor"])), ("started", r.ts(job["started_ts"])),
        ("finished", r.ts(job["finished_ts"])), ("env", f"[bold]{r.esc(job['env'])}[/bold]"),
        ("dataset", f"{r.esc(job['dataset_id'])} ({r.esc(job['dataset_fingerprint'])})"),
        ("window", " to ".join(r.esc(d or "-") for d in job["window"])),
        ("rows", r.num(job["rows"])), ("output", r.esc(job["output"])),
        ("allow_drift", r.yes_no(details["allow_drift"]) if "allow_drift" in details
         else r.NA),
    ]))
    for model_id, model in (details.get("models") or {}).items():
        report = model.get("drift")
        r.heading(out, f"{r.esc(model_id)} ({r.esc(model.get('status'))}, "
                       f"{r.num(model.get('in_sample_rows'))} in-sample rows)")
        if report is None:
            out.print("no drift report (the job was logged before drift was kept)")
            continue
        if not report["reference"]:
            out.print(f"[red]{r.esc(report['note'])}[/red]: its rows were not checked"
                      + (" (scored under allow_drift=true)" if report.get("overridden")
                         else ""))
            continue
        limits = report["thresholds"]
        out.print(f"drift {banded(report['band'])} on {r.num(report['rows'])} rows against "
                  f"{r.num(report['reference_rows'])} training rows (PSI soft "
                  f"{r.num(limits['soft_psi'])}, hard {r.num(limits['hard_psi'])}; regimes "
                  f"of at least {r.num(limits['min_regime_rows'])} rows)"
                  + ("; [bold]scored under allow_drift=true[/bold]"
                     if report.get("overridden") else ""))
        every = sorted(report["features"].items(),
                       key=lambda kv: (-(kv[1]["psi"] or 0.0), kv[0]))
        out.print(r.table("Overall, worst first", ["feature", "PSI", "KS", "band"],
                          feature_rows([{"feature": f, **v} for f, v in every])))
        regimes = [[r.esc(value), r.num(g["rows"]),
                    "; ".join(f"{r.esc(w['feature'])} {r.num(w['psi'], digits=3)} "
                              f"({banded(w['band'])})" for w in g["worst"][:REGIME_WORST])]
                   for value, g in report["regimes"].items()]
        if regimes:
            out.print(r.table("Per regime (PSI of the worst features)",
                              ["regime_tag", "rows", "worst features"], regimes))
    return 0
