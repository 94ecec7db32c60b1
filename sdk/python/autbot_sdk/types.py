"""The shared types of the contract (`autbot:plugin/types`).

Inside the component these are the classes componentize-py generated from wit/autbot.wit;
outside (unit tests in plain CPython) they are equivalent dataclasses.
"""

from dataclasses import dataclass
from enum import Enum

try:
    from wit_world.imports.types import Message, Passage, Query, Ranked, Rejection, Role
except ImportError:

    @dataclass
    class Query:
        """A user question as it moves through the pipeline."""

        text: str
        request_id: str

    @dataclass
    class Passage:
        """A retrieved passage (a chunk of an indexed document)."""

        id: str
        text: str
        source: str
        heading: str
        score: float

    @dataclass
    class Ranked:
        """A ranker's verdict on one passage."""

        id: str
        score: float

    class Role(Enum):
        """The author of a chat message."""

        SYSTEM = 0
        USER = 1
        ASSISTANT = 2

    @dataclass
    class Message:
        """One message of the conversation sent to the language model."""

        role: Role
        content: str

    @dataclass
    class Rejection:
        """A refusal to answer (HTTP 422 with `code`)."""

        reason: str
        code: str


try:
    from componentize_py_types import Err
except ImportError:

    @dataclass(frozen=True)
    class Err(Exception):
        """The failure case of a `result` (what componentize-py raises and expects)."""

        value: object


__all__ = ["Err", "Message", "Passage", "Query", "Ranked", "Rejection", "Role"]
