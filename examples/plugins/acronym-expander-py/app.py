"""Example preprocessor in Python: expands acronyms so that retrieval also finds passages
that spell them out (a port of ../acronym-expander, in Rust).

"How does RAG work?" becomes "How does RAG (retrieval-augmented generation) work?".
A question made only of configured `refuse` words is refused (HTTP 422), to show how a
preprocessor says no.

Capabilities: `config` (declared in pyproject.toml).

    [[plugins.chain]]
    name = "acronym-expander-py"
    hook = "preprocessor"
    path = "examples/plugins/dist/acronym-expander-py.wasm"
    capabilities = ["config"]
    memory_mb = 64
    deadline_ms = 200
    [plugins.chain.config]
    acronyms = { RAG = "retrieval-augmented generation", LLM = "large language model" }
"""

import re

from autbot_sdk import Query, config, reject

WORD = re.compile(r"[^\W_]+")


def expand(text, table):
    """Appends " (expansion)" after each whole-word, case-sensitive occurrence of an
    acronym, unless the text already contains the expansion."""
    lower = text.lower()

    def one(m):
        long = table.get(m.group(0))
        if long is None or long.lower() in lower:
            return m.group(0)
        return f"{m.group(0)} ({long})"

    return WORD.sub(one, text)


class WitWorld:
    """The preprocessor hook (componentize-py exports the class named WitWorld)."""

    def preprocess(self, q):
        # A broken table is a configuration error: raising fails the call, loudly.
        table = config.get_string_table("acronyms") or {}
        if q.text.strip().rstrip("?!.") in table:
            raise reject("acronym_only", f"Please ask a question about {q.text.strip()}, not just the acronym.")
        return Query(text=expand(q.text, table), request_id=q.request_id)
