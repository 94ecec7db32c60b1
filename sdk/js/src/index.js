// AutBot plugin SDK for JavaScript (contract autbot:plugin@0.2.0).
//
// A plugin module exports the function of its hook:
//   preprocessor:   export function preprocess(q)               -> query (or throw new Rejection(code, reason))
//   ranker:         export function rank(q, candidates)          -> [{ id, score }]
//   prompt-builder: export function buildPrompt(q, passages)     -> [{ role, content }]
//
// The capability helpers below are bundled only when the plugin uses them, so the
// component imports exactly the capabilities its code calls.
export * as config from "./config.js";
export * as conversation from "./conversation.js";
export * as embed from "./embed.js";
export * as llm from "./llm.js";
export * as log from "./log.js";
export * as search from "./search.js";
export { ConfigError } from "./config.js";
export { HostError, Rejection, assistant, message, ranked, system, user } from "./types.js";
