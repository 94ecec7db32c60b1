"""A fake host for unit tests of a plugin in plain CPython (no WebAssembly).

    from autbot_sdk import testing

    host = testing.install()                 # fresh fakes for every capability
    host.set_config({"boost": 1.0})          # as in autbot.toml
    host.on_llm = lambda messages: "reply"   # search/embed/llm: raise HostFailure to fail the call
    out = WitWorld().rank(testing.query("..."), [testing.passage("a", "text")])
    assert host.logs == [("debug", "...")]

Run the tests with `python3 sdk/python/tools/autbot_plugin.py test <plugin-dir>`.
"""

import json
from enum import Enum
from types import SimpleNamespace

from . import _wit
from .types import Err, Passage, Query


class Level(Enum):
    DEBUG = 0
    INFO = 1
    WARN = 2
    ERROR = 3


class HostFailure(Exception):
    """Raise it from `on_search`, `on_embed` or `on_llm` to fail the host call."""


class FakeHost:
    def __init__(self):
        self.config = {}
        self.logs = []
        self.history = []
        self.on_search = lambda text, top_k: []
        self.on_embed = lambda text: []
        self.on_llm = lambda messages: ""

    def set_config(self, table):
        """The plugin's config table; non-strings are handed over as JSON text, like the host."""
        self.config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in table.items()}

    def _result(self, fn, *args):
        try:
            return fn(*args)
        except HostFailure as e:
            raise Err(str(e)) from None

    def modules(self):
        return {
            "log": SimpleNamespace(
                Level=Level,
                log=lambda level, message: self.logs.append((level.name.lower(), message)),
            ),
            "config": SimpleNamespace(get=lambda key: self.config.get(key)),
            "search": SimpleNamespace(search=lambda text, k: self._result(self.on_search, text, k)),
            "embed": SimpleNamespace(embed=lambda text: self._result(self.on_embed, text)),
            "llm": SimpleNamespace(complete=lambda messages: self._result(self.on_llm, messages)),
            "conversation": SimpleNamespace(history=lambda: list(self.history)),
        }


def install():
    """Replaces every capability with a fake of a fresh FakeHost, and returns it."""
    host = FakeHost()
    _wit.RAW.update(host.modules())
    return host


def query(text, request_id="test"):
    """A query record as the host sends it."""
    return Query(text=text, request_id=request_id)


def passage(id, text, source=None, heading="", score=1.0):
    """A passage record as the host sends it."""
    return Passage(id=id, text=text, source=source or f"{id}.md", heading=heading, score=score)
