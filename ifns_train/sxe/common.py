"""What `ifns-admin` and `ifns-decide` share: argument parsing whose errors are one line, the
registry options, date and value checks, and the run loop that turns every user error into one
line on stderr and an exit code (2: usage, 1: the registry refused or failed).

Kept light on purpose: nothing here imports torch, lightning or pandas, so a console command
starts in well under a second.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn, get_args

from ifns_train.core.errors import IfnsError
from ifns_train.core.root import default_registry_dir

DIR_ENV = "IFNS_REGISTRY_DIR"
URL_ENV = "IFNS_REGISTRY_URL"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _literal(name: str) -> tuple[str, ...]:
    """The values of a Literal of the record schema (records.py holds the one definition; it
    is imported here rather than lifecycle, whose audit import pulls in pandas)."""
    from ifns_train.registry import records

    return tuple(get_args(getattr(records, name)))


MODEL_STATUSES = _literal("ModelStatus")  # == lifecycle.STATUSES (checked by a test)
EXPERIMENT_STATUSES = _literal("ExperimentStatus")
EXPERIMENT_KINDS = _literal("ExperimentKind")


class UsageError(Exception):
    """A mistake in the command line: one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are raised (one line, exit 2) instead of printing the usage."""

    def error(self, message: str) -> NoReturn:
        rest = self.prog.partition(" ")[2]
        where = f"{rest}: " if rest else ""
        raise UsageError(f"{where}{message} (see {self.prog} --help)")


def choices_type(values: Sequence[str], what: str) -> Callable[[str], str]:
    """An argparse type accepting one of `values`, with a message that lists them."""

    def check(text: str) -> str:
        if text not in values:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}: expected one of "
                                             f"{', '.join(values)}")
        return text

    check.__name__ = what
    return check


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _iso_utc(moment: datetime) -> str:
    """The registry's timestamp text (ids.iso): UTC, microseconds, a `Z`, so that the text
    comparison of the registry's date filters is a time comparison."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_when(text: str, upper: bool = False) -> str:
    """An ISO date or date-time as the registry's timestamp text. A date alone is its whole
    day: as a lower bound its start, as an upper (`upper`, exclusive) bound the next day's."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return (day + timedelta(days=1) if upper else day).isoformat()
        if value.endswith(("Z", "z")):
            value = value[:-1] + "+00:00"
        return _iso_utc(datetime.fromisoformat(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid date {text!r}: expected an ISO date (2026-01-31) or date-time "
            "(2026-01-31T12:00:00Z, UTC unless an offset is given)") from None


def since_type(text: str) -> str:
    return parse_when(text)


def until_type(text: str) -> str:
    return parse_when(text, upper=True)


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    """--registry-dir, --registry-url and --json, accepted before or after the subcommand
    (SUPPRESS: a subcommand's parser does not reset what the main parser read)."""
    group = parser.add_argument_group("registry")
    group.add_argument("--registry-dir", metavar="DIR", default=argparse.SUPPRESS,
                       help=f"registry folder (default: ${DIR_ENV}, else registry/ under "
                            "$IFNS_ROOT or the project root)")
    group.add_argument("--registry-url", metavar="URL", default=argparse.SUPPRESS,
                       help=f"database URL, e.g. postgresql://... (default: ${URL_ENV}, else "
                            "SQLite in the registry folder)")
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="machine output: one JSON document on stdout")


def registry_dir(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "registry_dir", None) or default_registry_dir())


def open_registry(args: argparse.Namespace, create: bool = False) -> Any:
    """The registry the options name; one that does not exist is an error unless `create`."""
    from ifns_train.registry.database import Registry

    return Registry(registry_dir(args), getattr(args, "registry_url", None) or None,
                    create=create)


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no $USER (some containers)
        return "unknown"


def check_text(value: str, what: str) -> str:
    if not value.strip():
        raise UsageError(f"{what} must not be empty")
    return value


def jsonable(value: Any) -> Any:
    """`value` with non-finite floats as null and anything else unknown as text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(mode="json"))
    return str(value)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(doc), indent=2, ensure_ascii=False, allow_nan=False)
                     + "\n")


def one_line(message: object) -> str:
    return " ".join(str(message).split())


def run(prog: str, parser: argparse.ArgumentParser,
        command: Callable[[argparse.Namespace], int], argv: Sequence[str] | None) -> int:
    """Parse and run; every user error is one line `prog: message` on stderr."""
    try:
        args = parser.parse_args(argv)
        return command(args)
    except UsageError as exc:
        _fail(prog, exc)
        return EXIT_USAGE
    except IfnsError as exc:
        _fail(prog, exc)
        return EXIT_FAILED
    except BrokenPipeError:  # `ifns-admin ... | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as exc:  # an unwritable --out folder, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        _fail(prog, f"{exc.strerror or exc}{where}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _fail(prog, "interrupted")
        return 130
    except Exception as exc:
        # A database error the registry did not translate (a file that is not a database):
        # still one line, not a traceback. Anything else is a bug and keeps its traceback.
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, SQLAlchemyError):
            raise
        _fail(prog, f"registry database error: {getattr(exc, 'orig', None) or exc}")
        return EXIT_FAILED


def _fail(prog: str, message: object) -> None:
    sys.stderr.write(f"{prog}: {one_line(message)}\n")
    sys.stderr.flush()
