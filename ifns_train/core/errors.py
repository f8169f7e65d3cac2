"""User-facing errors: one clear message that names what is at fault."""


class IfnsError(Exception):
    """Base of every error caused by the user's input (config, data, ids)."""


class ConfigError(IfnsError):
    """A config key or value is invalid."""


class ContractError(IfnsError):
    """A Stage 02 dataset breaks the data contract."""


class RegistryError(IfnsError):
    """The registry or an id in it is invalid."""


class DegenerateRunError(IfnsError):
    """A run that cannot give a usable model: it took no optimiser step, its loss or outputs are
    not finite, or its primary metric cannot be computed on the data."""


SHOWN_CHARS = 40  # characters of a bad value quoted in a message


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """`value` quoted for a one-line message: repr escapes newlines and control characters, and
    a long value is cut, so a 5,000-character id does not flood the terminal."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit + 2 else f"{text[:limit]}... ({len(text)} characters)"


class RunTerminated(BaseException):
    """The run was stopped by a signal (SIGTERM): not a user error, not to be caught as one."""
