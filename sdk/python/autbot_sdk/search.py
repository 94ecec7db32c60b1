"""Capability `search`: hybrid (vector + BM25) search in the host's index. Needs "search"."""

from ._wit import raw
from .host import call


def search(text, top_k):
    """The best `top_k` passages for `text` (the host caps `top_k`); raises HostError."""
    return call("search", raw("search").search, str(text), int(top_k))
