import { state } from "../state.js";
export function history() {
  return state.history.slice();
}
