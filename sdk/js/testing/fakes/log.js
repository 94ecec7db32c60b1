import { state } from "../state.js";
const LEVELS = ["debug", "info", "warn", "error"];
export function log(level, message) {
  if (!LEVELS.includes(level)) throw new TypeError(`invalid log level ${JSON.stringify(level)}`);
  state.logs.push({ level, message });
}
