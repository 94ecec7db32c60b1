// `npm test` (node --test with the SDK's fake host): the hook as the host calls it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { logs, query, reset, setConfig } from "autbot-sdk/testing";
import { preprocess } from "../src/plugin.js";
import { expand } from "../src/expand.js";

const RAG = { RAG: "retrieval-augmented generation" };

test("expands whole words only", () => {
  assert.equal(expand("How does RAG work?", RAG), "How does RAG (retrieval-augmented generation) work?");
  assert.equal(expand("DRAGON rag", RAG), "DRAGON rag");
  assert.equal(expand("RAG = retrieval-augmented generation", RAG), "RAG = retrieval-augmented generation");
});

test("the hook reads its table from config and logs the rewrite", () => {
  reset();
  setConfig({ acronyms: RAG });
  const q = preprocess(query("What is RAG?", "req-1"));
  assert.deepEqual(q, { text: "What is RAG (retrieval-augmented generation)?", requestId: "req-1" });
  assert.equal(logs().length, 1);
});

test("no table: the query passes unchanged", () => {
  reset();
  assert.deepEqual(preprocess(query("What is RAG?")), query("What is RAG?"));
});

test("a table that is not a table of strings fails the call", () => {
  reset();
  setConfig({ acronyms: ["RAG"] });
  assert.throws(() => preprocess(query("What is RAG?")), /config key `acronyms`/);
});
