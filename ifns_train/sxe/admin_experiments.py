"""`ifns-admin experiments ...`: the Experiment Log Console (spec 9.2): search runs by
family, date, status, kind, tag and text; drill into one (config, datasets, figures, error, history,
companions, SEL/DRA links); link a run to a SEL recommendation or a DRA decision; mark a
completed run `selected` or `discarded` after review. An evaluation with rows inside its model's
train or validation window (`ifns-evaluate allow_overlap=true`) is marked in-sample."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ifns_train.core.errors import IfnsError
from ifns_train.evaluation.promotion import verdict_words
from ifns_train.registry.records import NO_MODEL_KINDS
from ifns_train.sxe import render as r
from ifns_train.sxe.common import (
    EXPERIMENT_KINDS,
    EXPERIMENT_STATUSES,
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
from ifns_train.sxe.figures import SPLITS, key_figures_version, render_figures, split_figures

ERROR_CHARS = 80  # of an error shown in the search table


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    exps = commands.add_parser("experiments", parents=[common],
                               help="the experiment log console", description=__doc__)
    sub = exps.add_subparsers(dest="experiments_command", metavar="COMMAND", required=True)

    p = sub.add_parser("search", parents=[common], help="runs, newest first")
    p.add_argument("--family", help="model family id, e.g. MF_DIR_CORE_V1")
    p.add_argument("--status", type=choices_type(EXPERIMENT_STATUSES, "status"),
                   help=f"one of {', '.join(EXPERIMENT_STATUSES)}")
    p.add_argument("--kind", type=choices_type(EXPERIMENT_KINDS, "kind"),
                   help=f"one of {', '.join(EXPERIMENT_KINDS)}")
    p.add_argument("--since", type=since_type, metavar="DATE",
                   help="started at or after (ISO date or date-time, UTC)")
    p.add_argument("--until", type=until_type, metavar="DATE",
                   help="started before (a date alone: up to and including that day)")
    p.add_argument("--text", help="in the id, name, proposed model id or error")
    p.add_argument("--tag", help="runs carrying this tag (tags=[...] in the run's config)")
    p.add_argument("--limit", type=positive_int, default=50, help="at most N runs (50)")
    p.set_defaults(handler=cmd_search)

    p = sub.add_parser("show", parents=[common], help="one run in full")
    p.add_argument("experiment_id")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("link", parents=[common],
                       help="link a run to a SEL recommendation or a DRA decision")
    p.add_argument("experiment_id")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--sel", metavar="REF", help="a SEL recommendation id (Stage 13)")
    which.add_argument("--dra", metavar="REF", help="a DRA decision id (Stage 05)")
    p.add_argument("--actor", default=None, help="who links (default: the login name)")
    p.set_defaults(handler=cmd_link)

    p = sub.add_parser("mark", parents=[common],
                       help="a reviewer's verdict on a completed run: selected or discarded")
    p.add_argument("experiment_id")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--selected", dest="verdict", action="store_const", const="selected")
    verdict.add_argument("--discarded", dest="verdict", action="store_const",
                         const="discarded")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", default=None, help="who reviews (default: the login name)")
    p.set_defaults(handler=cmd_mark)

    p = sub.add_parser("pbo", parents=[common],
                       help="the probability that a search's pick overfit (CSCV)")
    p.add_argument("search", nargs="+", metavar="SWEEP_DIR | ID",
                   help="a sweep folder (artifacts.sweep_dir), or experiment/model ids")
    p.add_argument("--blocks", type=positive_int, default=None, metavar="S",
                   help="blocks of test dates, even (default: those its trials recorded, "
                        "promotion.pbo_blocks)")
    p.add_argument("--family", metavar="FAMILY_ID",
                   help="the family whose trials of the sweep form the search (needed when "
                        "the sweep ran several families)")
    p.set_defaults(handler=cmd_pbo)


def in_sample(datasets: dict[str, Any] | None) -> dict[str, Any] | None:
    """An evaluation's in-sample rows (`run.evaluation_run.overlap`), None for any other."""
    seen = (datasets or {}).get("in_sample")
    return seen if isinstance(seen, dict) else None


def in_sample_text(seen: dict[str, Any]) -> str:
    """One line on an in-sample evaluation, for the console."""
    def span(dates: Any) -> str:
        return " to ".join(r.esc(d) for d in dates or []) or r.NA

    windows = " and ".join(f"{r.esc(s)} {span(w)}" for s, w in
                           (seen.get("windows") or {}).items())
    return (f"[bold red]In-sample[/bold red]: {r.esc(seen.get('rows'))} of "
            f"{r.esc(seen.get('of'))} rows, dated {span(seen.get('dates'))}, lie inside the "
            f"model's windows ({windows}); evaluated with allow_overlap=true, its figures are "
            "no out-of-sample test")


def _primary(metrics: dict[str, Any]) -> tuple[str | None, Any]:
    test = metrics.get("test")
    if not isinstance(test, dict):
        test = {}
    name = test.get("primary_metric")
    return name, (test.get("model") or {}).get(name) if name else None


# --- search ----------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace) -> int:
    from ifns_train.registry import log

    reg = open_registry(args)
    try:
        entries = log.search(reg, family=args.family, status=args.status, kind=args.kind,
                             since=args.since, until=args.until, text=args.text,
                             tag=args.tag, limit=args.limit)
    finally:
        reg.close()
    if wants_json(args):
        emit_json({"filters": {k: getattr(args, k) for k in (
            "family", "status", "kind", "since", "until", "text", "tag", "limit")},
            "count": len(entries),
            "experiments": [e.model_dump(mode="json", exclude={"config"}) for e in entries]})
        return 0
    out = r.console()
    if not entries:
        out.print("no experiments match")
        return 0
    rows = []
    for e in entries:
        metric, value = _primary(e.metrics)
        error = e.error or ""
        rows.append([
            r.esc(e.experiment_id), r.esc(e.experiment_name), r.esc(e.model_family),
            r.esc(e.kind) + (" [red]in-sample[/red]" if in_sample(e.datasets) else ""),
            r.esc(e.status), r.ts(e.timestamp), r.esc(e.proposed_model_id),
            f"{r.esc(metric)} {r.num(value)}" if metric else r.NA,
            r.esc(error if len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + "...")])
    out.print(r.table(f"{len(entries)} experiment(s), newest first", [
        "experiment_id", "name", "family", "kind", "status", "started", "model",
        "test primary", "error"], rows, no_wrap=(0, 5, 6)))
    return 0


# --- show ------------------------------------------------------------------------------------
def show_doc(reg: Any, experiment_id: str) -> dict[str, Any]:
    from ifns_train.registry import log, model_registry

    entry = log.get(reg, experiment_id)
    children = log.search(reg, parent=experiment_id, limit=None)
    try:
        model = model_registry.get(reg, entry.proposed_model_id)
        model_info = {"model_id": model.model_id, "status": model.status,
                      "model_version": model.model_version}
    except IfnsError:
        model_info = None
    return {
        "experiment": entry.model_dump(mode="json"),
        "in_sample": in_sample(entry.datasets),
        "figures": split_figures(entry.metrics, key_figures_version(entry.metrics)),
        "model": model_info,
        "status_history": [h.model_dump() for h in log.status_history(reg, experiment_id)],
        "companions": [{"experiment_id": c.experiment_id, "kind": c.kind, "status": c.status,
                        "timestamp": c.timestamp} for c in children],
        "decision_links": log.links_of(reg, experiment_id).get(experiment_id, []),
    }


def cmd_show(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    try:
        doc = show_doc(reg, args.experiment_id)
    finally:
        reg.close()
    if wants_json(args):
        emit_json(doc)
        return 0
    out = r.console()
    e = doc["experiment"]
    model = doc["model"]
    out.print(r.fields(f"Experiment {r.esc(e['experiment_id'])}", [
        ("name", r.esc(e["experiment_name"])), ("family", r.esc(e["model_family"])),
        ("roles", r.joined(e["roles"])), ("kind", r.esc(e["kind"])),
        ("status", f"[bold]{r.esc(e['status'])}[/bold]"),
        ("started", r.ts(e["timestamp"])), ("finished", r.ts(e["finished_ts"])),
        ("host / pid", f"{r.esc(e['host'])} / {r.esc(e['pid'])}"),
        ("proposed model", r.esc(e["proposed_model_id"]) + (
            f" ({r.esc(model['status'])}, version {model['model_version']})" if model
            else " (not in the registry)")),
        ("parent", r.esc(e["parent_experiment_id"] or "-")),
        ("seed", r.esc(e["seed"])), ("config hash", r.esc(e["config_hash"])),
        ("code", r.joined(f"{k}={v}" for k, v in (e["code_version"] or {}).items()
                          if k != "packages")),
        ("tags", r.joined(e["tags"])),
    ]))
    if e["error"]:
        out.print(f"[bold red]Error[/bold red]: {r.esc(e['error'])}")
    if doc["in_sample"]:
        out.print(in_sample_text(doc["in_sample"]))
    ds = e["datasets"] or {}
    ids, windows, fps = (ds.get(k) or {} for k in ("ids", "windows", "fingerprints"))
    out.print(r.table("Datasets", ["split", "dataset", "window", "fingerprint"], [
        [r.esc(split), r.esc(ids.get(split)),
         " to ".join(r.esc(w) for w in windows.get(split) or []) or r.NA,
         r.esc(fps.get(ids.get(split)))] for split in ("train", "val", "test")],
        no_wrap=(0, 1, 2)))
    out.print(r.fields(None, [("features", r.joined(e["features_used"])),
                              ("labels", r.joined(e["labels_used"]))]))
    out.print(r.fields("Hyperparameters", [(r.esc(k), r.esc(json.dumps(v)))
                                           for k, v in (e["hyperparameters"] or {}).items()]))
    if any(split in (e["metrics"] or {}) for split in SPLITS):
        render_figures(out, doc["figures"], (e["metrics"] or {}).get("selection") or {})
        verdict = (e["metrics"] or {}).get("promotion")
        if e["kind"] in NO_MODEL_KINDS:
            out.print(f"[bold]Promotion[/bold]: none: a {r.esc(e['kind'])} run registers no "
                      "model; its figures are evidence about "
                      + (r.esc(e["parent_experiment_id"]) if e["parent_experiment_id"]
                         else "its model"))
        elif isinstance(verdict, dict):
            out.print("[bold]Promotion (as recorded)[/bold]: " + r.esc(verdict_words(verdict))
                      + "".join(f"; {r.esc(x)}" for x in verdict.get("reasons") or [])
                      + " (ifns-admin models show gives the checks as they stand now)")
    else:
        out.print("[bold]Key figures[/bold]: none recorded")
    out.print(r.table("Status history", ["when", "from", "to", "by", "reason"], [
        [r.ts(h["ts"]), r.esc(h["from_status"] or "-"), r.esc(h["status"]), r.esc(h["by"]),
         r.esc(h["reason"])] for h in doc["status_history"]]))
    linked = [(kind, ref) for kind, refs in (e["links"] or {}).items() for ref in refs]
    listed = {c["experiment_id"] for c in doc["companions"]}
    companions = [[r.esc(c["experiment_id"]), r.esc(c["kind"]), r.esc(c["status"]),
                   r.ts(c["timestamp"])] for c in doc["companions"]]
    companions += [[r.esc(ref), r.esc(kind), "(linked)", ""] for kind, ref in linked
                   if ref not in listed]
    if companions:
        out.print(r.table("Companion runs", ["experiment_id", "kind", "status", "started"],
                          companions))
    else:
        out.print("[bold]Companion runs[/bold]: none")
    if doc["decision_links"]:
        out.print(r.table("SEL / DRA links", ["kind", "reference", "by", "when"], [
            [r.esc(link["kind"].upper()), r.esc(link["ref"]), r.esc(link["actor"]),
             r.ts(link["ts"])] for link in doc["decision_links"]]))
    else:
        out.print("[bold]SEL / DRA links[/bold]: none")
    out.print(r.fields("Artifacts", [(r.esc(k), r.esc(v or "-"))
                                     for k, v in (e["artifacts"] or {}).items()]))
    r.heading(out, "Config")
    out.print(r.esc(json.dumps(e["config"], indent=2, sort_keys=True)), soft_wrap=True)
    return 0


# --- link, mark ------------------------------------------------------------------------------
def cmd_link(args: argparse.Namespace) -> int:
    from ifns_train.registry import log

    kind, ref = ("sel", args.sel) if args.sel is not None else ("dra", args.dra)
    actor = check_text(args.actor, "--actor") if args.actor is not None else default_actor()
    reg = open_registry(args)
    try:
        log.link(reg, args.experiment_id, kind, ref, actor)
    finally:
        reg.close()
    if wants_json(args):
        emit_json({"experiment_id": args.experiment_id, "kind": kind, "ref": ref,
                   "actor": actor})
        return 0
    r.console().print(f"linked {r.esc(args.experiment_id)} to {kind.upper()} {r.esc(ref)}")
    return 0


def cmd_mark(args: argparse.Namespace) -> int:
    from ifns_train.registry import log

    check_text(args.reason, "--reason")
    actor = check_text(args.actor, "--actor") if args.actor is not None else default_actor()
    reg = open_registry(args)
    try:
        before = log.get(reg, args.experiment_id).status
        log.set_status(reg, args.experiment_id, args.verdict, actor, args.reason)
    finally:
        reg.close()
    if wants_json(args):
        emit_json({"experiment_id": args.experiment_id, "from": before, "to": args.verdict,
                   "actor": actor, "reason": args.reason})
        return 0
    r.console().print(f"{r.esc(args.experiment_id)}: {r.esc(before)} -> {args.verdict}")
    return 0


# --- pbo -------------------------------------------------------------------------------------
HISTOGRAM_WIDTH = 40  # characters of the longest bar


def logit_bars(logits: dict[str, Any]) -> list[str]:
    """The logit histogram as text, one line per bin from the first to the last non-empty."""
    edges, counts = logits["edges"], logits["counts"]
    filled = [i for i, c in enumerate(counts) if c]
    if not filled:
        return []
    top = max(counts)
    return [f"  [{edges[i]:+5.1f}, {edges[i + 1]:+5.1f})  "
            f"{'#' * round(HISTOGRAM_WIDTH * counts[i] / top):<{HISTOGRAM_WIDTH}} {counts[i]}"
            for i in range(filled[0], filled[-1] + 1)]


def cmd_pbo(args: argparse.Namespace) -> int:
    from ifns_train.registry import searches

    refs = list(dict.fromkeys(args.search))
    by_ids = all(ref.startswith(("EXP_", "MDL_")) for ref in refs)
    if not by_ids and len(refs) > 1:
        raise IfnsError("experiments pbo: give one sweep folder, or experiment/model ids")
    reg = open_registry(args)
    try:
        trials = (searches.named_trials(reg, refs) if by_ids
                  else searches.sweep_trials(reg, refs[0], args.family))
        if not trials:
            raise IfnsError(f"experiments pbo: no trial in the log has the sweep folder "
                            f"{searches.resolved(refs[0])}"
                            + (f" and the family {args.family}" if args.family else ""))
        families = sorted({e.model_family for e in trials})
        if len(families) > 1:
            raise IfnsError(f"experiments pbo: the trials are of {len(families)} families "
                            f"({', '.join(families)}), each its own search; give --family "
                            f"or ids of one family")
        blocks = args.blocks or searches.recorded_blocks(reg, trials)
        figures = searches.search_pbo(reg, trials, blocks)
    finally:
        reg.close()
    if not by_ids:
        figures["sweep_dir"] = searches.resolved(refs[0])
    if wants_json(args):
        emit_json(figures)
        return 0
    out = r.console()
    where = figures.get("sweep_dir") or ", ".join(refs)
    out.print(f"[bold]PBO {figures['pbo']:.3f}[/bold] of {r.esc(where)}")
    out.print(f"  {figures['trials']} trials; per date, {r.esc(figures['per_date'])}")
    out.print(f"  {figures['dates']} test dates in S={figures['blocks']} blocks, "
              f"{figures['combinations']} halvings, purge {figures['horizon']} date(s)")
    out.print(f"  selected: {r.esc(figures['selected'] or '(none marked)')}")
    degradation = figures["degradation"]
    out.print(f"  the in-sample pick: mean figure {degradation['is_mean']:+.4f} in sample, "
              f"{degradation['oos_mean']:+.4f} out of sample")
    out.print(f"  logits (mean {figures['logits']['mean']:+.3f}; <= 0: the pick is at or "
              f"below the median out of sample):")
    for line in logit_bars(figures["logits"]):
        out.print(r.esc(line))
    return 0
