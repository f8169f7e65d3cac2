"""`ifns-admin models ...`: the Model Registry Console (spec 9.2): list models by what they
depend on, inspect one (metadata, datasets, figures, regimes, promotion checks, history,
proposals, audit), compare several (two: the second, the challenger, against the first on the
rows both scored), and record a proposal to DRA (which changes nothing)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.attribution_view import SHOW_FEATURES, summary
from ifns_train.evaluation.promotion import verdict_words
from ifns_train.sxe import admin_attribution
from ifns_train.sxe import render as r
from ifns_train.sxe.admin_compare import cmd_compare
from ifns_train.sxe.challenger import challenger_words
from ifns_train.sxe.common import (
    MODEL_STATUSES,
    UsageError,
    check_text,
    choices_type,
    default_actor,
    emit_json,
    open_registry,
    positive_int,
    since_type,
    until_type,
    wants_json,
)
from ifns_train.sxe.figures import (
    VERDICT_STYLE,
    mapping,
    primary_of,
    promotion,
    read_metrics_file,
    regime_breakdown,
    render_figures,
    render_promotion,
    render_regimes,
    split_figures,
    summary_words,
)


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    models = commands.add_parser("models", parents=[common], help="the model registry console",
                                 description=__doc__)
    sub = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", parents=[common], help="models, filtered by what they depend on")
    p.add_argument("--family", help="model family id, e.g. MF_DIR_CORE_V1")
    p.add_argument("--status", type=choices_type(MODEL_STATUSES, "status"),
                   help=f"one of {', '.join(MODEL_STATUSES)}")
    p.add_argument("--role", help="a model role, e.g. primary_directional")
    p.add_argument("--dataset", help="models trained, validated or tested on this dataset id")
    p.add_argument("--feature", help="models using this feature family")
    p.add_argument("--label", help="models using this label family")
    admin_attribution.add_list_arguments(p)
    p.add_argument("--since", type=since_type, metavar="DATE",
                   help="created at or after (ISO date or date-time, UTC)")
    p.add_argument("--until", type=until_type, metavar="DATE",
                   help="created before (a date alone: up to and including that day)")
    p.add_argument("--sort", metavar="METRIC",
                   help="a key figure, e.g. test.auc, test.improvement.auc, sharpe, dsr "
                        "(default: newest first)")
    p.add_argument("--asc", action="store_true", help="with --sort: smallest first")
    p.add_argument("--limit", type=positive_int, default=50, help="at most N models (50)")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", parents=[common], help="one model in full")
    p.add_argument("model_id")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("compare", parents=[common],
                       help="models side by side; two: the second (challenger) against the "
                            "first (champion) on the rows both scored")
    p.add_argument("model_ids", nargs="+", metavar="MODEL_ID")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("propose", parents=[common],
                       help="record a promotion or rollback proposal to DRA (changes nothing)")
    p.add_argument("model_id")
    p.add_argument("--to", required=True, type=choices_type(MODEL_STATUSES, "status"),
                   metavar="STATUS", help=f"one of {', '.join(MODEL_STATUSES)}")
    p.add_argument("--reason", required=True, help="why (shown to DRA)")
    p.add_argument("--actor", default=None, help="who proposes (default: the login name)")
    p.add_argument("--evidence", nargs="+", action="extend", default=[], metavar="ID",
                   help="experiment, model or document ids supporting it")
    p.add_argument("--role", help="the role the proposal is about")
    p.set_defaults(handler=cmd_propose)


# --- list ------------------------------------------------------------------------------------
def _check_filters(reg: Any, args: argparse.Namespace) -> list[str]:
    """Unknown family or role: a usage error (both are the registry's definitions). A dataset,
    feature or label no model uses is a fair question: a note, not an error."""
    from ifns_train.registry import model_registry

    notes = []
    if args.family:
        known = sorted({f.family_id for f in model_registry.family_records(reg)}
                       | set(model_registry.status_counts(reg)))
        if args.family not in known:
            raise UsageError(f"models list: unknown family {args.family!r}: the registry has "
                             f"{', '.join(known) or 'no families yet'}")
    if args.role:
        known = sorted({role for f in model_registry.family_records(reg) for role in f.roles}
                       | set(model_registry.input_names(reg, "role")))
        if args.role not in known:
            raise UsageError(f"models list: unknown role {args.role!r}: the registry has "
                             f"{', '.join(known) or 'no roles yet'}")
    for kind in ("dataset", "feature", "label"):
        value = getattr(args, kind)
        if value:
            known = model_registry.input_names(reg, kind)
            if value not in known:
                notes.append(f"no model uses {kind} {value!r} (in use: "
                             f"{', '.join(known) or 'none'})")
    return notes


def list_rows(reg: Any, args: argparse.Namespace
              ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The rows of the models found, each with its verdict as it stands now (`verdict`, its
    words `verdict_words`; `eligible` is the recorded flag); a model whose stored record fails
    validation is a row of its columns with `invalid`, the reason (else None), and the listing
    goes on. With --depends-on, only the models leaning on that family, and what the listing
    says of the others (`admin_attribution.leaning_on`)."""
    from ifns_train.registry import current, model_registry

    rows = model_registry.search(
        reg, family=args.family, status=args.status, role=args.role, dataset=args.dataset,
        feature=args.feature, label=args.label, since=args.since, until=args.until,
        sort=args.sort, descending=not args.asc,
        limit=None if args.depends_on else args.limit, records=False)
    depends = None
    if args.depends_on:
        rows, depends = admin_attribution.leaning_on(reg, rows, args.depends_on, args.min_drop)
        rows = rows[:args.limit]
    if args.sort and rows and not any(args.sort in row["key_metrics"] for row in rows):
        known = sorted({k for row in rows for k in row["key_metrics"]})
        raise UsageError(f"models list: unknown metric {args.sort!r} for --sort: the models "
                         f"found have {', '.join(known)}")
    out = []
    cache: current.TrialCache = {}
    for row in rows:
        try:
            record = model_registry.get(reg, row["model_id"])
        except RegistryError as exc:
            out.append({**row, "key_metrics": {}, "roles": [], "primary_metric": None,
                        "test_primary": None, "test_improvement": None, "eligible": None,
                        "verdict": None, "verdict_words": None,
                        "invalid": str(exc)})  # its figures are not shown unchecked
            continue
        primary = primary_of(record.metrics)
        figures = row["key_metrics"]
        eligible = figures.get("eligible")
        now = current.evidence_now(reg, record, cache)["promotion"]
        out.append({**row, "roles": record.roles, "primary_metric": primary,
                    "test_primary": figures.get("test.primary"),
                    "test_improvement": figures.get(f"test.improvement.{primary}"),
                    "eligible": None if eligible is None else bool(eligible),
                    "verdict": None if now is None else now["verdict"],
                    "verdict_words": verdict_words(now or {}), "invalid": None})
    return out, depends


def verdict_cell(row: dict[str, Any]) -> str:
    style = VERDICT_STYLE.get(str(row["verdict"]))
    words = r.esc(row["verdict_words"] or r.NA)
    return f"[{style}]{words}[/{style}]" if style else words


def cmd_list(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    try:
        notes = _check_filters(reg, args)
        rows, depends = list_rows(reg, args)
    finally:
        reg.close()
    invalid = [row for row in rows if row["invalid"]]
    if invalid:
        notes.append(f"{len(invalid)} invalid record(s) listed; ifns-admin doctor lists every "
                     "one")
    for note in notes:
        sys.stderr.write(f"ifns-admin: note: {note}\n")
    if wants_json(args):
        emit_json({"filters": {k: getattr(args, k) for k in (
            "family", "status", "role", "dataset", "feature", "label", "since", "until",
            "sort", "limit", "depends_on", "min_drop")} | {"ascending": args.asc},
                   "count": len(rows), "models": rows, "depends_on": depends})
        return 0
    out = r.console()
    if not rows:
        out.print("no models match")
        if depends:
            out.print(admin_attribution.not_measured_line(depends), soft_wrap=True)
        return 0
    extra = args.sort and args.sort != "test.primary"
    columns = ["model_id", "family", "version", "status", "created", "test primary",
               "improvement (+: better)", "verdict now",
               *([r.esc(args.sort)] if extra else []),
               *(admin_attribution.COLUMNS if depends else [])]
    body = []
    for row in rows:
        metric = row["primary_metric"]
        body.append([
            r.esc(row["model_id"]), r.esc(row["model_family"]), str(row["model_version"]),
            r.esc(row["status"]) + (" [red]invalid[/red]" if row["invalid"] else ""),
            r.ts(row["created_ts"]),
            f"{r.esc(metric)} {r.num(row['test_primary'])}" if metric else r.NA,
            r.num(row["test_improvement"], signed=True), verdict_cell(row),
            *([r.num(row["key_metrics"].get(args.sort))] if extra else []),
            *(admin_attribution.cells(row) if depends else [])])
    order = f", by {r.esc(args.sort)} {'ascending' if args.asc else 'descending'}" \
        if args.sort else ", newest first"
    lean = admin_attribution.title(depends) if depends else ""
    out.print(r.table(f"{len(rows)} model(s){lean}{order}", columns, body))
    if depends:
        out.print(admin_attribution.not_measured_line(depends), soft_wrap=True)
    for row in invalid:
        out.print(f"[red]invalid[/red]: {r.esc(row['invalid'])}", soft_wrap=True)
    return 0


# --- show ------------------------------------------------------------------------------------
def show_doc(reg: Any, model_id: str) -> dict[str, Any]:
    """Everything `models show` shows; the promotion checks and the selection evidence as they
    stand now (`registry.current`), the recorded ones under `evidence_now.recorded`."""
    from ifns_train.registry import audit, current, lifecycle, model_registry

    record = model_registry.get(reg, model_id)
    doc, problem = read_metrics_file(reg.dir, record.artifact_path)
    now = current.evidence_now(reg, record)
    metrics_now = {**record.metrics, "promotion": now["promotion"],
                   "selection": now["selection"]}
    return {
        "model": record.model_dump(mode="json"),
        "figures": split_figures(record.metrics, record.metrics_version),
        "selection": mapping(now["selection"]),
        "promotion": promotion(metrics_now, doc),
        "evidence_now": {k: now[k] for k in ("as_of", "recorded_ts", "recorded", "current",
                                             "changed", "stale")},
        "regimes": regime_breakdown(doc),
        "attribution": summary(doc, record.metrics_version, SHOW_FEATURES),
        "metrics_file_problem": problem,
        "proposals": lifecycle.proposals_of(reg, model_id),
        "audit": audit.audit_model(reg, record).as_dict(),
    }


def cmd_show(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    try:
        doc = show_doc(reg, args.model_id)
    finally:
        reg.close()
    if wants_json(args):
        emit_json(doc)
        return 0
    render_show(doc)
    return 0


def render_show(doc: dict[str, Any]) -> None:
    out = r.console()
    m = doc["model"]
    out.print(r.fields(f"Model {r.esc(m['model_id'])}", [
        ("family", r.esc(m["model_family"])), ("version", str(m["model_version"])),
        ("status", f"[bold]{r.esc(m['status'])}[/bold]"),
        ("experiment", r.esc(m["experiment_id"])), ("roles", r.joined(m["roles"])),
        ("created", r.ts(m["created_ts"])), ("last updated", r.ts(m["last_updated_ts"])),
        ("prediction type", r.esc(m["prediction_type"])),
        ("horizons", r.joined(m["horizons"])),
        ("environments", r.joined(m["supported_environments"])),
        ("resources", r.joined(f"{k}={v}" for k, v in mapping(m["resources"]).items())),
        ("training", r.joined(f"{k}={v}" for k, v in mapping(m["training"]).items())),
        ("metrics version", str(m["metrics_version"])
         + (f" ({len(m['metrics_history'])} earlier kept)" if m["metrics_history"] else "")),
        ("artifacts", r.esc(m["artifact_path"])),
        ("code", r.joined(f"{k}={v}" for k, v in mapping(m["code_version"]).items()
                          if k != "packages")),
    ]))
    windows = mapping(m["dataset_windows"])
    fingerprints = mapping(m["dataset_fingerprints"])
    rows = []
    for split in ("train", "val", "test"):
        dataset = m[f"{split}_dataset_id"]
        window = windows.get(split) or []
        rows.append([split, r.esc(dataset),
                     " to ".join(r.esc(w) for w in window) if window else r.NA,
                     r.esc(fingerprints.get(dataset))])
    out.print(r.table("Datasets", ["split", "dataset", "window", "fingerprint"], rows,
                      no_wrap=(0, 1, 2)))
    out.print(r.fields(None, [("features", r.joined(m["features_used"])),
                              ("labels", r.joined(m["labels_used"]))]))
    render_figures(out, doc["figures"], doc["selection"])
    render_regimes(out, doc["regimes"], doc["metrics_file_problem"])
    admin_attribution.render_attribution(out, doc["attribution"])
    render_promotion(out, doc["promotion"], doc["evidence_now"])
    out.print(r.table("Status history", ["when", "from", "to", "by", "reason", "evidence",
                                         "decided on"], [
        [r.ts(h["ts"]), r.esc(h["from_status"] or "-"), r.esc(h["status"]), r.esc(h["by"]),
         r.esc(h["reason"]), r.joined(h["evidence"]), r.esc(decided_on(h.get("figures")))]
        for h in m["status_history"]]))
    if doc["proposals"]:
        out.print(r.table("Proposals to DRA", [
            "proposal", "when", "action", "from", "to", "role", "by", "reason", "evidence",
            "state", "decision"], [
            [r.esc(p["proposal_id"]), r.ts(p["ts"]), r.esc(p["action"]),
             r.esc(p["from_status"]), r.esc(p["to_status"]), r.esc(p["role"] or "-"),
             r.esc(p["actor"]), r.esc(p["reason"]), r.joined(p["evidence"]),
             r.esc(p["state"]),
             f"{r.esc(p['decision'])} ({r.ts(p['decided_ts'])})" if p.get("decision")
             else "-"]
            for p in doc["proposals"]]))
    else:
        out.print("[bold]Proposals to DRA[/bold]: none")
    audit = doc["audit"]
    if audit["compliant"]:
        out.print("[bold]Audit[/bold]: [green]compliant[/green] (spec 8.2)")
    else:
        out.print("[bold]Audit[/bold]: [red]non-compliant[/red]: not eligible for production "
                  "use")
        for reason in audit["reasons"]:
            out.print(f"  - {r.esc(reason)}")


def decided_on(figures: dict[str, Any] | None) -> str:
    """What a decision's history row says it was made on: '-' for other changes."""
    if not figures:
        return "-"
    words = (f"{summary_words(mapping(figures.get('current')))} "
             f"(as of {str(figures.get('as_of'))[:19]})")
    challenger = figures.get("challenger")
    return f"{words}; {challenger_words(challenger)}" if challenger else words


# --- propose ---------------------------------------------------------------------------------
def cmd_propose(args: argparse.Namespace) -> int:
    from ifns_train.registry import lifecycle

    check_text(args.reason, "--reason")
    actor = check_text(args.actor, "--actor") if args.actor is not None else default_actor()
    reg = open_registry(args)
    try:
        proposal = lifecycle.propose(reg, args.model_id, args.to, actor, args.reason,
                                     evidence=args.evidence, role=args.role)
    finally:
        reg.close()
    if not proposal.get("proposal_id"):
        raise RegistryError("the registry recorded no proposal id")
    if wants_json(args):
        emit_json(proposal)
        return 0
    out = r.console()
    out.print(r.esc(proposal["proposal_id"]))
    out.print(f"recorded a {r.esc(proposal['action'])} proposal to DRA: "
              f"{r.esc(proposal['model_id'])} {r.esc(proposal['from_status'])} -> "
              f"{r.esc(proposal['to_status'])} (nothing changed; DRA decides with ifns-decide "
              f"--proposal {r.esc(proposal['proposal_id'])})", soft_wrap=True)
    return 0
