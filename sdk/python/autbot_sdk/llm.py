"""Capability `llm`: a chat completion through the host's language-model client (counted
and rate-limited by the host). Needs "llm"."""

from ._wit import raw
from .host import call


def complete(messages):
    """The assistant's reply to `messages` (a list of Message); raises HostError."""
    return call("llm", raw("llm").complete, list(messages))
