"""Capability `embed`: the host's embedding model. Needs "embed"."""

from ._wit import raw
from .host import call


def embed(text):
    """The L2-normalised embedding of `text` (a list of floats); raises HostError."""
    return call("embed", raw("embed").embed, str(text))


def cosine(a, b):
    """Cosine similarity of two L2-normalised vectors (their dot product, over the shorter)."""
    return sum(x * y for x, y in zip(a, b))
