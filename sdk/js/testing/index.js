// Test helpers: a fake host for running a plugin's hook function in Node.js.
// Run tests with the SDK's loader, which maps `autbot-sdk` to the SDK and each
// `autbot:plugin/*` interface to a fake below:
//
//     node <sdk>/js/tools/autbot-plugin.mjs test <plugin-dir>
//
// (that is `node --import <sdk>/js/testing/register.js --test` in the plugin folder).
import { state } from "./state.js";

/** Sets the plugin's `config` table (as in autbot.toml); non-strings are sent as JSON text, like the host. */
export function setConfig(table) {
  state.config = {};
  for (const [k, v] of Object.entries(table ?? {})) {
    state.config[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
}

/** The lines the plugin logged since the last reset: [{ level, message }]. */
export function logs() {
  return state.logs.slice();
}

/** The `conversation` capability's answer. */
export function setHistory(messages) {
  state.history = messages;
}

/** `search`: (text, topK) => Passage[]; throw a string to fail the host call. */
export function onSearch(fn) {
  state.search = fn;
}

/** `embed`: (text) => number[]; throw a string to fail the host call. */
export function onEmbed(fn) {
  state.embed = fn;
}

/** `llm`: (messages) => string; throw a string to fail the host call. */
export function onLlm(fn) {
  state.llm = fn;
}

/** Forgets config, logs, history and the host-call handlers. */
export function reset() {
  state.config = {};
  state.logs = [];
  state.history = [];
  state.search = () => [];
  state.embed = () => new Float32Array(0);
  state.llm = () => "";
}

/** A query record as the host sends it. */
export function query(text, requestId = "test") {
  return { text, requestId };
}

/** A passage record as the host sends it. */
export function passage(id, text, { source = `${id}.md`, heading = "", score = 1 } = {}) {
  return { id, text, source, heading, score };
}
