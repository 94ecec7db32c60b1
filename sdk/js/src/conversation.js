// Capability `conversation`: the earlier turns of a chat (/v1/chat/completions),
// oldest first; empty for /api/query. Needs "conversation" granted.
import { history as rawHistory } from "autbot:plugin/conversation@0.2.0";

/** The messages before the current question, oldest first. */
export function history() {
  return rawHistory();
}
