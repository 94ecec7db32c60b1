"""Example ranker in Python: boosts passages that literally contain words of the
question, on top of the host's hybrid retrieval score (a port of ../keyword-boost, in Rust).

    score' = score * (1 + boost * matched_words / question_words)

Capabilities: `config`, `log` (declared in pyproject.toml).

    [[plugins.chain]]
    name = "keyword-boost-py"
    hook = "ranker"
    path = "examples/plugins/dist/keyword-boost-py.wasm"
    capabilities = ["config", "log"]
    memory_mb = 64        # the Python heap
    deadline_ms = 200
    [plugins.chain.config]
    boost = 0.5
"""

import re

from autbot_sdk import ConfigError, config, log, ranked

# Words too common to count as a match.
STOP_WORDS = frozenset(
    "a an and are as at be by do does for from how i in is it me my of on or the to was "
    "what when where which who why with you".split()
)


def keywords(text):
    """Lower-case words of the question, minus stop words and duplicates."""
    words = re.split(r"[^\w]+|_", text.lower())
    return sorted({w for w in words if len(w) > 1 and w not in STOP_WORDS})


def boost_scores(query_text, candidates, boost):
    """Every candidate re-scored, best first."""
    words = keywords(query_text)
    out = []
    for p in candidates:
        text = p.text.lower()
        hits = sum(1 for w in words if w in text)
        out.append(ranked(p.id, p.score * (1 + boost * hits / max(len(words), 1))))
    out.sort(key=lambda r: r.score, reverse=True)
    return words, out


class WitWorld:
    """The ranker hook (componentize-py exports the class named WitWorld)."""

    def rank(self, q, candidates):
        try:
            boost = config.get_parsed_or("boost", 0.5)
        except ConfigError as e:
            log.warn(f"keyword-boost-py: {e}; using 0.5")
            boost = 0.5
        words, out = boost_scores(q.text, candidates, boost)
        # The host tags log lines with the plugin name and request id.
        log.debug(
            f"keyword-boost-py: {len(words)} keywords, {len(out)} passages, "
            f"best {out[0].id if out else None}"
        )
        return out
