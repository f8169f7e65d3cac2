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
