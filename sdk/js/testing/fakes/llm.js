import { state } from "../state.js";
import { result } from "./host-result.js";
export function complete(messages) {
  return result(() => String(state.llm(messages)));
}
