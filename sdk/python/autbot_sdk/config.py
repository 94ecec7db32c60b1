"""Capability `config`: the plugin's own `config` table from autbot.toml. Needs "config"
declared and granted.

The host returns strings as written and every other value (numbers, booleans, arrays,
tables) as JSON text. The typed getters return `None` when the key is not set and raise a
`ConfigError` naming the key when the value has the wrong shape.
"""

import json

from ._wit import raw


class ConfigError(ValueError):
    """A config value that is set but has the wrong shape."""

    def __init__(self, key, message):
        super().__init__(f"config key `{key}`: {message}")
        self.key = key


def _kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "a table"


def get(key):
    """The raw value of `key`, or None when it is not set."""
    return raw("config").get(key)


def get_or(key, default):
    """The raw value of `key`, or `default` when it is not set."""
    value = get(key)
    return default if value is None else value


def get_parsed(key, parse):
    """The value of `key` parsed with `parse` (e.g. `float`, `int`), or None when not set."""
    text = get(key)
    if text is None:
        return None
    if parse is bool:
        parse = _parse_bool
    try:
        return parse(text.strip())
    except (TypeError, ValueError) as e:
        raise ConfigError(key, f"cannot parse {text!r}: {e}") from None


def get_parsed_or(key, default):
    """Like `get_parsed` with the type of `default`, which is returned when the key is not set."""
    value = get_parsed(key, type(default))
    return default if value is None else value


def _parse_bool(text):
    if text in ("true", "false"):
        return text == "true"
    raise ValueError("expected true or false")


def get_json(key):
    """The value of `key` as JSON; a value that is not JSON is a plain string."""
    text = get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def get_string_list(key):
    """The value of `key` as a list of strings (`banned = ["password", "salary"]`)."""
    value = get_json(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(key, f"expected an array of strings, got {_kind(value)}")
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(key, f"expected only strings, got {_kind(item)}")
    return value


def _table(key, types, what):
    value = get_json(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a table of {what}s, got {_kind(value)}")
    for k, item in value.items():
        if not isinstance(item, types) or isinstance(item, bool):
            raise ConfigError(key, f"`{k}`: expected a {what}, got {_kind(item)}")
    return value


def get_number_table(key):
    """The value of `key` as a dict of numbers (`weights = { resume = 1.5 }`), in order."""
    table = _table(key, (int, float), "number")
    return None if table is None else {k: float(v) for k, v in table.items()}


def get_string_table(key):
    """The value of `key` as a dict of strings (`acronyms = { RAG = "..." }`), in order."""
    return _table(key, str, "string")
