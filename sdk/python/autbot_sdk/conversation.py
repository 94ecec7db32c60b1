"""Capability `conversation`: the earlier turns of a chat (/v1/chat/completions), oldest
first; empty for /api/query. Needs "conversation"."""

from ._wit import raw


def history():
    """The messages before the current question, oldest first."""
    return raw("conversation").history()
