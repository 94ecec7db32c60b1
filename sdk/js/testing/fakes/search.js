import { state } from "../state.js";
import { result } from "./host-result.js";
export function search(text, topK) {
  return result(() => state.search(text, topK));
}
