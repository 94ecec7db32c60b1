// Capability `log`: a line in the host log, tagged with the plugin name and the
// request id. Needs "log" granted.
import { log as rawLog } from "autbot:plugin/log@0.2.0";

/** Emits one line at `level` ("debug", "info", "warn" or "error"). */
export function log(level, message) {
  rawLog(level, String(message));
}
export const debug = (message) => log("debug", message);
export const info = (message) => log("info", message);
export const warn = (message) => log("warn", message);
export const error = (message) => log("error", message);
