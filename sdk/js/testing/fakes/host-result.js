// A fake host call returning `result<T, string>`: an error is thrown the way the
// component bindings throw it (an object with `payload`).
export function result(fn) {
  try {
    return fn();
  } catch (e) {
    if (e && typeof e === "object" && "payload" in e) throw e;
    const err = new Error(String(e));
    err.payload = typeof e === "string" ? e : String(e?.message ?? e);
    throw err;
  }
}
