import { test } from "node:test";
import assert from "node:assert/strict";
import { logs, passage, query, reset, setConfig } from "autbot-sdk/testing";
import { keywords, rank } from "../src/plugin.js";

test("keywords drop stop words and duplicates", () => {
  assert.deepEqual(keywords("How does the index index BM25?"), ["bm25", "index"]);
});

test("passages containing the question's words move up", () => {
  reset();
  setConfig({ boost: 1.0 });
  const out = rank(query("reciprocal rank fusion"), [
    passage("a", "Nothing relevant here.", { score: 1.0 }),
    passage("b", "Reciprocal rank fusion merges lists.", { score: 0.8 }),
  ]);
  assert.deepEqual(out.map((r) => r.id), ["b", "a"]);
  assert.equal(out[0].score, 1.6);
  assert.equal(logs().at(-1).level, "debug");
});

test("a bad boost is logged and replaced by 0.5", () => {
  reset();
  setConfig({ boost: "lots" });
  rank(query("fusion"), [passage("a", "fusion", { score: 1 })]);
  assert.equal(logs()[0].level, "warn");
});
