// Capability `config`: the plugin's own `config` table from autbot.toml. Needs
// "config" granted. The host returns strings as written and every other value
// (numbers, booleans, arrays, tables) as JSON text; the typed getters below return
// `undefined` when the key is not set and throw a ConfigError naming the key when
// the value has the wrong shape.
import { get as rawGet } from "autbot:plugin/config@0.2.0";

/** A config value that is set but has the wrong shape. */
export class ConfigError extends Error {
  constructor(key, message) {
    super(`config key \`${key}\`: ${message}`);
    this.name = "ConfigError";
    this.key = key;
  }
}

const kind = (v) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "a table" : `a ${typeof v}`);

/** The raw value of `key`, or `undefined` when it is not set. */
export function get(key) {
  const v = rawGet(key);
  return v === null ? undefined : v;
}

/** The raw value of `key`, or `fallback` when it is not set. */
export function getOr(key, fallback) {
  const v = get(key);
  return v === undefined ? fallback : v;
}

/** The value of `key` as JSON; a value that is not JSON is a plain string. */
export function getJson(key) {
  const text = get(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The value of `key` as a finite number (`min_score = 0.2`). */
export function getNumber(key) {
  const text = get(key);
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(n)) throw new ConfigError(key, `cannot parse ${JSON.stringify(text)} as a number`);
  return n;
}

/** The value of `key` as a boolean (`enabled = true`). */
export function getBoolean(key) {
  const text = get(key);
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === "true") return true;
  if (t === "false") return false;
  throw new ConfigError(key, `cannot parse ${JSON.stringify(text)} as a boolean`);
}

/** The value of `key` as an array of strings (`banned = ["password", "salary"]`). */
export function getStringList(key) {
  const v = getJson(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ConfigError(key, `expected an array of strings, got ${kind(v)}`);
  for (const item of v) {
    if (typeof item !== "string") throw new ConfigError(key, `expected only strings, got ${kind(item)}`);
  }
  return v;
}

function table(key, type) {
  const v = getJson(key);
  if (v === undefined) return undefined;
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new ConfigError(key, `expected a table of ${type}s, got ${kind(v)}`);
  }
  for (const [k, item] of Object.entries(v)) {
    if (typeof item !== type) throw new ConfigError(key, `\`${k}\`: expected a ${type}, got ${kind(item)}`);
  }
  return v;
}

/** The value of `key` as a table of numbers (`weights = { resume = 1.5 }`), in order. */
export const getNumberTable = (key) => table(key, "number");

/** The value of `key` as a table of strings (`acronyms = { RAG = "..." }`), in order. */
export const getStringTable = (key) => table(key, "string");
