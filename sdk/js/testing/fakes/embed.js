import { state } from "../state.js";
import { result } from "./host-result.js";
export function embed(text) {
  return result(() => Float32Array.from(state.embed(text)));
}
