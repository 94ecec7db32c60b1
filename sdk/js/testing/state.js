// The fake host's state, shared by the fake capability modules and the testing API.
const KEY = Symbol.for("autbot-sdk.testing");
export const state = (globalThis[KEY] ??= {
  config: {},
  logs: [],
  history: [],
  search: () => [],
  embed: () => new Float32Array(0),
  llm: () => "",
});
