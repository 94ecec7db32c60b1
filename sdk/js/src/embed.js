// Capability `embed`: the host's embedding model. Needs "embed" granted.
import { embed as rawEmbed } from "autbot:plugin/embed@0.2.0";
import { hostCall } from "./types.js";

/** The L2-normalised embedding of `text` (a Float32Array); throws a HostError. */
export function embed(text) {
  return hostCall("embed", () => rawEmbed(String(text)));
}

/** Cosine similarity of two L2-normalised vectors (their dot product, over the shorter one). */
export function cosine(a, b) {
  let sum = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) sum += a[i] * b[i];
  return sum;
}
