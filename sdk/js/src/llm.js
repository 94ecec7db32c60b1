// Capability `llm`: a chat completion through the host's language-model client
// (counted and rate-limited by the host). Needs "llm" granted.
import { complete as rawComplete } from "autbot:plugin/llm@0.2.0";
import { hostCall } from "./types.js";

/** The assistant's reply to `messages` ([{ role, content }]); throws a HostError. */
export function complete(messages) {
  return hostCall("llm", () => rawComplete(messages.map((m) => ({ role: m.role, content: String(m.content) }))));
}
