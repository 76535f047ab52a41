"""Checks of user input, and the one exception type they raise so every entry point reports it in one line."""

import math

from hydra.errors import CompactHydraException, InstantiationException


class ConfigError(CompactHydraException, ValueError):
    """A config value that is wrong; ``key`` names it as the user typed it (``data.input_length``).

    Components raise it with their own argument name; ``train.py`` prefixes the config group
    (``with_group``) so the message names the key exactly as it is overridden on the command line.
    Subclassing Hydra's compact exception makes Hydra print the message without a traceback.
    """

    def __init__(self, key: str, problem: str, full_key: bool = False):
        self.key, self.problem, self.full_key = key, problem, full_key
        super().__init__(f"{key}: {problem}")

    def __reduce__(self):  # picklable, so a parallel launcher's worker can hand it back
        return ConfigError, (self.key, self.problem, self.full_key)

    def with_group(self, group: str) -> "ConfigError":
        """The same error with its key prefixed by ``group``, unless ``key`` is already the full key."""
        return self if self.full_key else ConfigError(f"{group}.{self.key}", self.problem)


def is_int(value) -> bool:
    """An integer, and not a bool (YAML's true is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """An int or a float, and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(key: str, value, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum``, else raise a ConfigError naming ``key``."""
    if not is_int(value) or value < minimum:
        raise ConfigError(key, f"must be an integer >= {minimum}, got {value!r}")
    return value


def check_bool(key: str, value) -> bool:
    """Return ``value`` if it is true or false, else raise a ConfigError naming ``key``."""
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")
    return value


def check_fraction(key: str, value, low: float = 0.0, high: float = 1.0, high_inclusive=False) -> float:
    """Return ``value`` if it is a number in (low, high) (or (low, high]), else raise a ConfigError."""
    ok = is_number(value) and low < value and (value <= high if high_inclusive else value < high)
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise ConfigError(key, f"must be a number in ({low}, {high}{bracket}, got {value!r}")
    return float(value)


def check_declared(key: str, given, actual, context: str) -> None:
    """A value a config declares (so that models can interpolate it) must be what the data has."""
    if given not in (None, actual):
        raise ConfigError(key, f"must be {actual} {context}, got {given!r}")


def check_choice(key: str, value, allowed) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a ConfigError listing them."""
    if value not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception behind Hydra's instantiation wrappers."""
    while isinstance(error, InstantiationException) and error.__cause__ is not None:
        error = error.__cause__
    return error


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (behind Hydra's wrappers), or its type's name."""
    lines = str(root_cause(error)).strip().splitlines()
    return lines[0] if lines else type(root_cause(error)).__name__


def one_line(error: BaseException) -> str:
    """``ConfigError: data.input_length: must be ...``: the error's type and first line, for a status file."""
    return f"{type(root_cause(error)).__name__}: {first_line(error)}"


def check_finite_number(key: str, value, minimum: float | None = None, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if not is_number(value) or not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ConfigError(key, f"must be a finite number{bound}{' or null' if allow_none else ''}, got {value!r}")
