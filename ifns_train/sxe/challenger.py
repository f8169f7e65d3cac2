"""Champion against challenger as the consoles show it: `ifns-admin models compare A B` (B the
challenger, A the champion, compared on the rows both scored) and the `challenger` figures a
promotion decision was made on (`ifns-decide`, a model's status history).

Why apart from `admin_models`: the listing console must start without pandas, and the
comparison (`registry.champion`) reads prediction tables; it is imported only when two models
are compared.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from ifns_train.core.errors import IfnsError
from ifns_train.evaluation.promotion import interval_words
from ifns_train.sxe import render as r


def paired_doc(reg: Any, champion: Any, challenger: Any) -> dict[str, Any]:
    """The comparison of two model records, or why there is none (`available`, `reason`)."""
    from ifns_train.registry import champion as duel  # pandas: only when two are compared

    ids = {"champion_id": champion.model_id, "challenger_id": challenger.model_id}
    try:
        return {"available": True, "reason": None, **duel.compare(reg, champion, challenger)}
    except (duel.NotComparable, IfnsError) as exc:
        return {"available": False, "reason": str(exc), **ids}


def comparison_words(doc: dict[str, Any]) -> str:
    """'auc +0.0123 (0.6012 against 0.5889) on 1440 rows, 120 dates, 95% interval +0.0030 to
    +0.0201: significantly better': the difference (> 0: the challenger is better), each
    model's figure, and what its interval says; the Diebold-Mariano statistic for a loss."""
    figures = (doc["challenger"]["figure"], doc["champion"]["figure"])
    words = (f"{doc['metric']} {r.num(doc['difference'], signed=True)} "
             f"({r.num(figures[0])} against {r.num(figures[1])}) on {doc['rows']} rows, "
             f"{doc['dates']} dates{interval_words(doc.get('interval'))}")
    dm = doc.get("diebold_mariano")
    if dm:
        words += "; " + dm_words(dm)
    return words


def dm_words(dm: dict[str, Any]) -> str:
    if dm.get("statistic") is None:
        return f"Diebold-Mariano undefined (a constant loss differential over {dm['dates']} dates)"
    return (f"Diebold-Mariano {dm['statistic']:+.2f}, p {dm['p_value']:.3g} (HAC, "
            f"{dm['lags']} lags, {dm['dates']} dates; > 0: the challenger's loss is lower)")


def challenger_words(doc: dict[str, Any]) -> str:
    """What a decision's `challenger` figures say, in one line."""
    verdict = "passed" if doc.get("passed") else "failed"
    rule = f"{doc.get('rule')} margin {doc.get('margin')}" if doc.get("rule") else "rule"
    if doc.get("error"):
        return f"challenger {verdict}: {doc['error']}"
    return (f"challenger against holder {doc['holder']}: {comparison_words(doc)}; "
            f"{rule}: {verdict}")


def render_paired(out: Console, doc: dict[str, Any]) -> None:
    title = (f"Challenger {r.esc(doc['challenger_id'])} against champion "
             f"{r.esc(doc['champion_id'])}, on the rows both scored")
    if not doc["available"]:
        out.print(f"[bold]{title}[/bold]: none: {r.esc(doc['reason'])}", soft_wrap=True)
        return
    interval = doc.get("interval") or {}
    direction = "higher" if doc["higher_is_better"] else "lower"
    pairs = [
        ("rows", f"{doc['rows']} on {doc['dates']} dates, {r.esc(doc['first_date'])} to "
                 f"{r.esc(doc['last_date'])} (only the champion's: {doc['only_champion']}, "
                 f"only the challenger's: {doc['only_challenger']})"),
        (r.esc(doc["metric"]), f"champion {r.num(doc['champion']['figure'])}, challenger "
                                f"{r.num(doc['challenger']['figure'])} ({direction} is better)"),
        ("difference", f"{r.num(doc['difference'], signed=True)} (> 0: the challenger is "
                       f"better){r.esc(interval_words(interval))}"),
        ("bootstrap", f"{r.esc(interval.get('method'))} over dates, block "
                      f"{interval.get('block')} ({r.esc(interval.get('block_rule'))}), "
                      f"{interval.get('reps')} replicates, seed {interval.get('seed')}"),
    ]
    if doc.get("diebold_mariano"):
        pairs.append(("Diebold-Mariano", r.esc(dm_words(doc["diebold_mariano"]))))
    out.print(r.fields(title, pairs))
