"""Errors of host calls."""

from .types import Err


class HostError(RuntimeError):
    """A failed host call (`search`, `embed`, `llm`): the host's message."""

    def __init__(self, capability, message):
        super().__init__(f"{capability}: {message}")
        self.capability = capability
        self.message = message


def call(capability, fn, *args):
    try:
        return fn(*args)
    except Err as e:
        raise HostError(capability, str(e.value)) from None
