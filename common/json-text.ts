/**
 * Text that may be JSON (an answer's body, a WebSocket message), parsed; undefined for none
 * or for text that is not JSON, for callers that then say what they expected.
 */
export function jsonOrUndefined(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: the caller names what it expected
  }
}
