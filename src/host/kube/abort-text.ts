/** The caller's reason for an abort (an Error or a string), so a cut request or plugin says why. */
export function abortText(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name !== 'AbortError') return r.message;
  return typeof r === 'string' ? r : 'reporting was stopped';
}
