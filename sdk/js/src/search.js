// Capability `search`: hybrid (vector + BM25) search in the host's index. Needs
// "search" granted.
import { search as rawSearch } from "autbot:plugin/search@0.2.0";
import { hostCall } from "./types.js";

/** The best `topK` passages for `text` (the host caps `topK`); throws a HostError. */
export function search(text, topK) {
  return hostCall("search", () => rawSearch(String(text), topK >>> 0));
}
