"""What the Hydra entry points share: a user's mistake is one line and exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import CompactHydraException

from ifns_train.core.errors import IfnsError


class RunError(CompactHydraException):
    """A user error, shown by Hydra as its message alone (no traceback), exit code 1."""


@contextmanager
def user_errors(prog: str) -> Iterator[None]:
    """Turn the project's errors, and Lightning's word on a Trainer setting, into `RunError`."""
    try:
        yield
    except IfnsError as exc:
        raise RunError(f"{prog}: {exc}") from None
    except Exception as exc:
        # Lightning is imported here only if it raised: a command that never trains (an
        # unknown model id for ifns-evaluate) should not pay for importing it.
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        if isinstance(exc, MisconfigurationException):
            raise RunError(f"{prog}: lightning: {exc}") from None
        raise
