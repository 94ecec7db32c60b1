import { state } from "../state.js";
export function get(key) {
  return Object.hasOwn(state.config, key) ? state.config[key] : undefined;
}
