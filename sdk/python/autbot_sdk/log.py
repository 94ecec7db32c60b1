"""Capability `log`: a line in the host log, tagged with the plugin name and the request id.
Needs "log" declared and granted."""

from ._wit import raw

LEVELS = ("debug", "info", "warn", "error")


def log(level, message):
    """Emits one line at `level`: "debug", "info", "warn" or "error" (or the generated Level)."""
    module = raw("log")
    if isinstance(level, str):
        if level not in LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {LEVELS}")
        level = module.Level[level.upper()]
    module.log(level, str(message))


def debug(message):
    log("debug", message)


def info(message):
    log("info", message)


def warn(message):
    log("warn", message)


def error(message):
    log("error", message)
