// Types of the AutBot plugin SDK for JavaScript/TypeScript (contract autbot:plugin@0.2.0).
// The records mirror wit/autbot.wit; field names are camelCase (`request-id` is `requestId`).

/** A user question as it moves through the pipeline. */
export interface Query {
  text: string;
  requestId: string;
}

/** A retrieved passage (a chunk of an indexed document). */
export interface Passage {
  id: string;
  text: string;
  source: string;
  heading: string;
  score: number;
}

/** A ranker's verdict on one passage. */
export interface Ranked {
  id: string;
  score: number;
}

export type Role = "system" | "user" | "assistant";

/** One message of the conversation sent to the language model. */
export interface Message {
  role: Role;
  content: string;
}

/** The hook functions a plugin module exports (exactly one of them). */
export type Preprocess = (q: Query) => Query;
export type Rank = (q: Query, candidates: Passage[]) => Ranked[];
export type BuildPrompt = (q: Query, passages: Passage[]) => Message[];

/** Thrown by a preprocessor to refuse a question (HTTP 422 with `code`). */
export class Rejection extends Error {
  constructor(code: string, reason: string);
  readonly code: string;
  readonly reason: string;
  readonly payload: { reason: string; code: string };
}

/** A failed host call (`search`, `embed`, `llm`). */
export class HostError extends Error {
  readonly capability: string;
  readonly hostMessage: string;
}

/** A config value that is set but has the wrong shape. */
export class ConfigError extends Error {
  readonly key: string;
}

export function message(role: Role, content: string): Message;
export function system(content: string): Message;
export function user(content: string): Message;
export function assistant(content: string): Message;
export function ranked(id: string, score: number): Ranked;

export type Level = "debug" | "info" | "warn" | "error";

/** Capability `log`. */
export namespace log {
  function log(level: Level, message: string): void;
  function debug(message: string): void;
  function info(message: string): void;
  function warn(message: string): void;
  function error(message: string): void;
}

/** Capability `config`: strings as written, other values as JSON text. */
export namespace config {
  function get(key: string): string | undefined;
  function getOr(key: string, fallback: string): string;
  function getJson(key: string): unknown;
  function getNumber(key: string): number | undefined;
  function getBoolean(key: string): boolean | undefined;
  function getStringList(key: string): string[] | undefined;
  function getNumberTable(key: string): Record<string, number> | undefined;
  function getStringTable(key: string): Record<string, string> | undefined;
}

/** Capability `search`. */
export namespace search {
  function search(text: string, topK: number): Passage[];
}

/** Capability `embed`. */
export namespace embed {
  function embed(text: string): Float32Array;
  function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number;
}

/** Capability `llm`. */
export namespace llm {
  function complete(messages: Message[]): string;
}

/** Capability `conversation`. */
export namespace conversation {
  function history(): Message[];
}
