// Example preprocessor in JavaScript: expands acronyms so that retrieval also
// finds passages that spell them out (a port of ../acronym-expander, in Rust).
//
// "How does RAG work?" becomes
// "How does RAG (retrieval-augmented generation) work?".
//
// Capabilities: `config`, `log` (the component imports exactly what the code calls).
//
//   [[plugins.chain]]
//   name = "acronym-expander-js"
//   hook = "preprocessor"
//   path = "examples/plugins/dist/acronym-expander-js.wasm"
//   capabilities = ["config", "log"]
//   memory_mb = 64        # the JavaScript engine's heap
//   deadline_ms = 200
//   [plugins.chain.config]
//   acronyms = { RAG = "retrieval-augmented generation", LLM = "large language model" }
import { config, log } from "autbot-sdk";
import { expand } from "./expand.js";

/** The preprocessor hook: returns the (rewritten) query, or throws a Rejection. */
export function preprocess(q) {
  // `acronyms` is a TOML table, handed over as JSON text. A broken value is a
  // configuration error: throwing fails the call, loudly.
  const table = config.getStringTable("acronyms") ?? {};
  const text = expand(q.text, table);
  if (text !== q.text) log.debug(`acronym-expander-js: ${q.text} -> ${text}`);
  return { ...q, text };
}
