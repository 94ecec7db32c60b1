"""AutBot plugin SDK for Python (contract autbot:plugin@0.2.0).

A plugin module (default: `app.py`) defines a class named `WitWorld` with the method of
its hook:

    preprocessor:    def preprocess(self, q: Query) -> Query     (raise reject(code, reason) to refuse)
    ranker:          def rank(self, q: Query, candidates: list[Passage]) -> list[Ranked]
    prompt-builder:  def build_prompt(self, q: Query, passages: list[Passage]) -> list[Message]

The capability modules (config, log, search, embed, llm, conversation) work when the
capability is declared in pyproject.toml ([tool.autbot] capabilities) and granted in
autbot.toml.
"""

from . import config, conversation, embed, llm, log, search
from .config import ConfigError
from .host import HostError
from .types import Err, Message, Passage, Query, Ranked, Rejection, Role
from ._wit import CapabilityNotDeclared


def reject(code, reason):
    """A refusal to raise from `preprocess`: `raise reject("banned_topic", "Sorry, ...")`.
    The host replies 422 with `reason` as the error text and `code` as the error code."""
    return Err(Rejection(reason=reason, code=code))


def message(role, content):
    """A chat message; `role` is a Role or "system", "user" or "assistant"."""
    if isinstance(role, str):
        role = Role[role.upper()]
    return Message(role=role, content=str(content))


def system(content):
    """A `system` message."""
    return message(Role.SYSTEM, content)


def user(content):
    """A `user` message."""
    return message(Role.USER, content)


def assistant(content):
    """An `assistant` message."""
    return message(Role.ASSISTANT, content)


def ranked(id, score):
    """A ranker's verdict: the new `score` of the passage `id`."""
    return Ranked(id=str(id), score=float(score))


__all__ = [
    "CapabilityNotDeclared",
    "ConfigError",
    "Err",
    "HostError",
    "Message",
    "Passage",
    "Query",
    "Ranked",
    "Rejection",
    "Role",
    "assistant",
    "config",
    "conversation",
    "embed",
    "llm",
    "log",
    "message",
    "ranked",
    "reject",
    "search",
    "system",
    "user",
]
