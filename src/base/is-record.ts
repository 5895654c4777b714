/** A mapping as JSON or YAML gives one: an object that is not an array (null is not one). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
