"""The lifecycle of a model (spec 4.1, 9.2, 10): its statuses, who may change them, and how.

Stage 03 grants no promotion power. Admin records **proposals** (promote or roll back, with
actor and reason); `decide`, the entry point meant for DRA (Stage 05), applies a transition and
refuses `canary` or `promoted` for a model that is non-compliant or fails its promotion checks
as they stand at the decision (`current.evidence_now`: the deflated Sharpe ratio deflated by
the trials of the log now, not those at record time), and `promoted` for a model whose
controls (walk-forward, placebo) were not run. Every change is an appended history row, a
decision's with the figures it was made on; promoting a model to a role retires the role's
previous holder in the same family, in the same transaction (`PREVIOUS_HOLDER`), and is refused
for a challenger that fails the family's challenger rule against that holder on the rows both
scored (`champion`: the comparison goes into the decision's figures as `challenger`).

**One decision at a time per family, on every backend.** A transition is a guarded write
(`UPDATE ... WHERE status = <the status decided from>`, its row count checked) in a
transaction that first serialises the family's decisions (SQLite: the write lock taken at
`BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock on the family), and the
status and the role's holders are read again inside it. Two concurrent decisions cannot both
promote a model, or two models, for one role: the later one sees the earlier one's outcome
and is refused ("became promoted meanwhile"), or, promoting another model to the role, is
refused when the role's holders it finds are not those its challenger comparison was made
against ("changed meanwhile": decide again, to be compared with the new holder).

What that guard does not cover: the comparison itself is computed before the write transaction
(it reads two prediction tables and bootstraps: seconds, too long to hold the family's lock),
from the holder's hash-checked artifact folder. A holder whose status changed and changed back
in between, or whose folder was rewritten with its recorded hashes updated (a re-evaluation
under a new metrics version), is not detected; the decision records the comparison it was
made on, with the holder's id.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, get_args

from sqlalchemy import Connection, and_, insert, select, text, update

from ifns_train.core import faults
from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.promotion import CONTROL_REMEDIES
from ifns_train.registry import champion, ids
from ifns_train.registry.audit import audit_model
from ifns_train.registry.current import evidence_now
from ifns_train.registry.database import Registry, dumps
from ifns_train.registry.log import append_history
from ifns_train.registry.model_registry import get as get_model
from ifns_train.registry.records import ModelRecord, ModelStatus
from ifns_train.registry.schema import models, proposals

STATUSES: tuple[str, ...] = get_args(ModelStatus)  # candidate, canary, promoted, retired
# from -> the statuses it may become. A model reaches production through canary; a rollback
# takes a promoted model back to canary or retires it; retired is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "candidate": ("canary", "retired"),
    "canary": ("promoted", "candidate", "retired"),
    "promoted": ("canary", "retired"),
    "retired": (),
}
GATED = ("canary", "promoted")  # reached only by a compliant, eligible model
# What promoting a model does to the model that held the same role in its family.
PREVIOUS_HOLDER = "retired"


def action_of(from_status: str, to_status: str) -> str:
    return "promote" if STATUSES.index(to_status) > STATUSES.index(from_status) \
        and to_status != "retired" else "rollback"


def check_transition(model_id: str, from_status: str, to_status: str) -> None:
    if to_status not in STATUSES:
        raise RegistryError(f"unknown status {to_status!r}: expected one of "
                            f"{', '.join(STATUSES)}")
    if to_status not in TRANSITIONS[from_status]:
        allowed = ", ".join(TRANSITIONS[from_status]) or "nothing (final)"
        raise RegistryError(f"model {model_id}: {from_status} cannot become {to_status} "
                            f"(allowed: {allowed})")


def _check_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise RegistryError(f"{what} must be non-empty text of at most 2000 characters")
    return value


def propose(reg: Registry, model_id: str, to_status: str, actor: str, reason: str,
            evidence: list[str] | None = None, role: str | None = None) -> dict[str, Any]:
    """Record a proposal to DRA to move a model; nothing about the model changes."""
    model = get_model(reg, model_id)
    check_transition(model_id, model.status, to_status)
    _check_text(actor, "actor")
    _check_text(reason, "reason")
    evidence = [ids.check_id(e, "evidence id") for e in (evidence or [])]
    if role is not None and role not in model.roles:
        raise RegistryError(f"model {model_id} has no role {role!r} (its roles: "
                            f"{', '.join(model.roles)})")
    row = {"proposal_id": f"PRP_{ids.utc_now().strftime('%Y%m%dT%H%M%S')}_"
                          f"{secrets.token_hex(6)}",
           "model_id": model_id, "action": action_of(model.status, to_status),
           "from_status": model.status, "to_status": to_status, "role": role, "actor": actor,
           "reason": reason, "evidence": dumps(evidence), "ts": ids.iso(ids.utc_now()),
           "state": "open"}
    with reg.write() as conn:
        conn.execute(insert(proposals).values(**row))
    return {**row, "evidence": evidence}


def proposals_of(reg: Registry, model_id: str | None = None, state: str | None = None
                 ) -> list[dict[str, Any]]:
    query = select(proposals).order_by(proposals.c.ts)
    if model_id:
        query = query.where(proposals.c.model_id == model_id)
    if state:
        query = query.where(proposals.c.state == state)
    with reg.read() as conn:
        return [{**r, "evidence": json.loads(r["evidence"])}
                for r in conn.execute(query).mappings()]


def gate(reg: Registry, model_id: str, to_status: str = "canary",
         model: ModelRecord | None = None, role: str | None = None
         ) -> tuple[list[str], dict[str, Any]]:
    """Why the model may not become `to_status` (empty: it may), and the figures that says
    so: its audit, its promotion checks as they stand now (`current.evidence_now`) and, to be
    promoted to `role` (default: its first) that another model holds, the comparison with
    that holder under the challenger rule (`champion.challenge`, as `challenger`)."""
    model = model or get_model(reg, model_id)
    finding = audit_model(reg, model)
    reasons = [f"non-compliant: {r}" for r in finding.reasons]
    now = evidence_now(reg, model)
    promotion = now["promotion"]
    if now["stale"]:
        reasons.append(f"stale evidence: {now['stale']}")
    if promotion is None:
        reasons.append("no promotion checks recorded")
    elif promotion["verdict"] == "not_eligible":
        reasons += [f"promotion check failed: {r}" for r in promotion["reasons"]] \
            or ["promotion checks: not eligible"]
    elif to_status == "promoted" and promotion["controls_not_run"]:
        missing = promotion["controls_not_run"]
        reasons.append("controls not run: " + "; ".join(
            f"{name} (run {CONTROL_REMEDIES[name]})" for name in missing)
            + "; a model is promoted only on controls run and passed (canary may go without)")
    figures = {"as_of": now["as_of"], "current": now["current"], "recorded": now["recorded"],
               "recorded_ts": now["recorded_ts"], "compliant": finding.compliant}
    if to_status == "promoted":
        refused, comparison = champion.challenge(reg, model, role or model.roles[0])
        reasons += refused
        if comparison is not None:
            figures["challenger"] = comparison
    return reasons, figures


def _serialise(conn: Connection, family_id: str) -> None:
    """One decision at a time per family (see the module docstring): PostgreSQL's READ
    COMMITTED would otherwise let two transactions read the same status and both act on it;
    SQLite's write transaction already holds the database's one write lock."""
    faults.point("decide-in-transaction")
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(3032, hashtext(:family))"),
                     {"family": family_id})


def decide(reg: Registry, model_id: str, to_status: str, actor: str, reason: str,
           proposal_id: str | None = None, evidence: list[str] | None = None,
           role: str | None = None) -> dict[str, Any]:
    """Apply a transition (DRA's decision) and return what changed."""
    _check_text(actor, "actor")
    _check_text(reason, "reason")
    evidence = [ids.check_id(e, "evidence id") for e in (evidence or [])]
    model = get_model(reg, model_id)
    check_transition(model_id, model.status, to_status)
    role = role or model.roles[0]
    refused, figures = gate(reg, model_id, to_status, model, role) if to_status in GATED \
        else ([], None)
    if proposal_id is not None:
        evidence = [proposal_id, *evidence]
    faults.point("decide-checked")
    now = ids.iso(ids.utc_now())
    with reg.write() as conn:
        _serialise(conn, model.model_family)
        if proposal_id is not None:
            prop = conn.execute(select(proposals).where(
                proposals.c.proposal_id == proposal_id)).mappings().first()
            if prop is None or prop["model_id"] != model_id or prop["state"] != "open":
                raise RegistryError(f"proposal {proposal_id!r} is not an open proposal for "
                                    f"model {model_id}")
            if prop["to_status"] != to_status:
                raise RegistryError(f"proposal {proposal_id} proposes {prop['to_status']}, "
                                    f"not {to_status}")
            changed_state = conn.execute(
                update(proposals).where(and_(proposals.c.proposal_id == proposal_id,
                                             proposals.c.state == "open"))
                .values(state="refused" if refused else "applied", decided_ts=now,
                        decision=f"{actor}: {'; '.join(refused) or reason}")).rowcount
            if changed_state != 1:
                raise RegistryError(f"proposal {proposal_id} was decided meanwhile")
        if refused:
            refusal = RegistryError(f"model {model_id} cannot become {to_status}: "
                                    + "; ".join(refused))
        else:
            refusal = None
            changed = [_move(conn, model_id, model.status, to_status, actor, reason, evidence,
                             now, figures)]
            if to_status == "promoted":
                compared = ((figures or {}).get("challenger") or {}).get("holders") or []
                changed += _replace_holders(conn, model, role, compared, actor, evidence, now)
    if refusal is not None:  # the proposal's refusal is committed; the model is unchanged
        raise refusal
    return {"model_id": model_id, "changes": changed, "figures": figures}


def _move(conn: Connection, model_id: str, old: str, new: str, actor: str, reason: str,
          evidence: list[str], now: str, figures: dict[str, Any] | None = None
          ) -> dict[str, str]:
    """The guarded write of one transition: it takes effect only from `old`."""
    moved = conn.execute(update(models).where(and_(models.c.model_id == model_id,
                                                   models.c.status == old))
                         .values(status=new, last_updated_ts=now)).rowcount
    if moved != 1:
        current = conn.execute(select(models.c.status).where(
            models.c.model_id == model_id)).scalar_one_or_none()
        raise RegistryError(f"model {model_id} became {current} meanwhile (it was {old} when "
                            f"the decision was checked); decide again")
    append_history(conn, "model", model_id, old, new, actor, reason, evidence, ts=now,
                   figures=figures)
    return {"model_id": model_id, "from": old, "to": new}


def _replace_holders(conn: Connection, model: ModelRecord, role: str, compared: list[str],
                     actor: str, evidence: list[str], now: str) -> list[dict[str, str]]:
    """Retire the role's holders, read again under the family's lock; refused when they are
    not the holders the challenger comparison was made against (see the module docstring)."""
    holders = champion.holder_ids(conn, model, role)
    if sorted(holders) != sorted(compared):
        raise RegistryError(
            f"model {model.model_id}: the {role} holders changed meanwhile (compared with "
            f"{', '.join(compared) or 'none'} when the decision was checked, now "
            f"{', '.join(holders) or 'none'}); decide again")
    return [_move(conn, holder, "promoted", PREVIOUS_HOLDER, actor,
                  f"replaced as {role} by {model.model_id}", [model.model_id, *evidence], now)
            for holder in holders]


def status_history(reg: Registry, model_id: str) -> list[dict[str, Any]]:
    return [h.model_dump() for h in get_model(reg, model_id).status_history]
