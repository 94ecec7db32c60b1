// Example ranker in JavaScript: boosts passages that literally contain words of
// the question, on top of the host's hybrid retrieval score (a port of
// ../keyword-boost, in Rust).
//
//   score' = score * (1 + boost * matched_words / question_words)
//
// Capabilities: `config`, `log`.
//
//   [[plugins.chain]]
//   name = "keyword-boost-js"
//   hook = "ranker"
//   path = "examples/plugins/dist/keyword-boost-js.wasm"
//   capabilities = ["config", "log"]
//   memory_mb = 64
//   deadline_ms = 200
//   [plugins.chain.config]
//   boost = 0.5
import { config, log, ranked } from "autbot-sdk";

/** Words too common to count as a match. */
const STOP_WORDS = new Set(
  "a an and are as at be by do does for from how i in is it me my of on or the to was what when where which who why with you".split(" "),
);

/** Lower-case words of the question, minus stop words and duplicates. */
export function keywords(text) {
  const words = text
    .toLowerCase()
    .split(/[^0-9a-z\u00C0-\uFFFF]+/)
    .filter((w) => w.length > 1 && !STOP_WORDS.has(w));
  return [...new Set(words)].sort();
}

/** The ranker hook: every candidate, re-scored, best first. */
export function rank(q, candidates) {
  let boost = 0.5;
  try {
    boost = config.getNumber("boost") ?? 0.5;
  } catch (e) {
    log.warn(`keyword-boost-js: ${e.message}; using 0.5`);
  }
  const words = keywords(q.text);
  const out = candidates.map((p) => {
    const text = p.text.toLowerCase();
    const hits = words.filter((w) => text.includes(w)).length;
    return ranked(p.id, p.score * (1 + (boost * hits) / Math.max(words.length, 1)));
  });
  out.sort((a, b) => b.score - a.score);
  // The host tags log lines with the plugin name and request id.
  log.debug(`keyword-boost-js: ${words.length} keywords, ${out.length} passages, best ${out[0]?.id}`);
  return out;
}
