"""`ifns-decide`: the decision entry point meant for DRA (Stage 05).

  ifns-decide MODEL_ID --to STATUS --actor NAME --reason TEXT [--proposal ID]
              [--evidence ID ...] [--role ROLE] [--registry-dir DIR] [--registry-url URL] [--json]

Stage 03 grants no promotion or rollback power (spec 9.2, 10): Admin (`ifns-admin`) only
records proposals. This tool is DRA's, kept apart from Admin: it applies one transition with
`lifecycle.decide`, which refuses `canary` or `promoted` for a model that is non-compliant or
fails its promotion checks as they stand at the decision (the deflated Sharpe ratio deflated by
the trials the log holds now), `promoted` for one whose controls (walk-forward, placebo) were
not run, `promoted` for a challenger that fails the family's challenger rule against the
promoted holder of its role on the rows both scored (the comparison is printed and stored with
the decision), and any transition the lifecycle does not allow. A refusal is one
line naming every reason, exit code 1 (a proposal named with --proposal is then marked
refused); a usage error exits 2. Promoting a model retires the previous holder of its role in
the family, in the same transaction; every change is an appended history row, a decision's
with the figures it was made on.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ifns_train.core import process
from ifns_train.sxe import render as r
from ifns_train.sxe.admin_models import decided_on
from ifns_train.sxe.common import (
    MODEL_STATUSES,
    Parser,
    add_registry_options,
    check_text,
    choices_type,
    emit_json,
    open_registry,
    run,
    wants_json,
)

PROG = "ifns-decide"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_id")
    parser.add_argument("--to", required=True, metavar="STATUS",
                        type=choices_type(MODEL_STATUSES, "status"),
                        help=f"one of {', '.join(MODEL_STATUSES)}")
    parser.add_argument("--actor", required=True, help="who decides (recorded)")
    parser.add_argument("--reason", required=True, help="why (recorded)")
    parser.add_argument("--proposal", metavar="ID", help="the Admin proposal this decides")
    parser.add_argument("--evidence", nargs="+", action="extend", default=[], metavar="ID",
                        help="ids of the evidence (DRA decision, experiments, documents)")
    parser.add_argument("--role", help="with --to promoted: the role taken over (default: "
                                       "the model's first role)")
    add_registry_options(parser)
    return parser


def decide(args: argparse.Namespace) -> int:
    from ifns_train.registry import lifecycle

    check_text(args.actor, "--actor")
    check_text(args.reason, "--reason")
    reg = open_registry(args)
    try:
        result = lifecycle.decide(reg, args.model_id, args.to, args.actor, args.reason,
                                  proposal_id=args.proposal, evidence=args.evidence,
                                  role=args.role)
    finally:
        reg.close()
    if wants_json(args):
        emit_json(result)
        return 0

    out = r.console()
    for change in result["changes"]:
        out.print(f"{r.esc(change['model_id'])}: {r.esc(change['from'])} -> "
                  f"{r.esc(change['to'])}")
    out.print(f"decided by {r.esc(args.actor)}"
              + (f" on proposal {r.esc(args.proposal)}" if args.proposal else ""))
    if result.get("figures"):
        out.print(f"on the checks as they stand now: {r.esc(decided_on(result['figures']))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    process.freeze_at_exit()
    return run(PROG, build_parser(), decide, argv)


if __name__ == "__main__":
    raise SystemExit(main())
