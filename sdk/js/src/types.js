// Shared types of the contract (`autbot:plugin/types`) and small constructors.

/**
 * A refusal to answer, thrown by a preprocessor: the host replies 422 with
 * `reason` as the error text shown to the user and `code` as the stable error
 * code (snake_case).
 *
 *     throw new Rejection("banned_topic", "Sorry, I can't answer questions about that topic.");
 */
export class Rejection extends Error {
  constructor(code, reason) {
    super(reason);
    this.name = "Rejection";
    this.code = code;
    this.reason = reason;
    // The component's export glue sends `payload` as the `err` of
    // `result<query, rejection>`.
    this.payload = { reason, code };
  }
}

/** A failed host call (`search`, `embed`, `llm`): the host's message. */
export class HostError extends Error {
  constructor(capability, message) {
    super(`${capability}: ${message}`);
    this.name = "HostError";
    this.capability = capability;
    this.hostMessage = message;
  }
}

/** Runs a raw host call; a `result` error (thrown with `payload`) becomes a HostError. */
export function hostCall(capability, fn) {
  try {
    return fn();
  } catch (e) {
    if (e && typeof e === "object" && "payload" in e) {
      throw new HostError(capability, String(e.payload));
    }
    throw e;
  }
}

/** A chat message with the given role (`"system"`, `"user"` or `"assistant"`). */
export function message(role, content) {
  return { role, content: String(content) };
}

/** A `system` message. */
export const system = (content) => message("system", content);
/** A `user` message. */
export const user = (content) => message("user", content);
/** An `assistant` message. */
export const assistant = (content) => message("assistant", content);

/** A ranker's verdict: the new `score` of the passage `id`. */
export function ranked(id, score) {
  return { id: String(id), score: Number(score) };
}
