/** What a probe saw on its last look. `detail` is what the SRE reads when readiness times out. */
export interface Observation {
  ready: boolean;
  detail: string;
  /** `warn` for a state that will not mend without help (a failed or missing unit): logged as a warning. */
  severity?: 'warn';
}

/**
 * One readiness condition (kubelet healthz, a unit's state, containerd's CRI). The gate polls `check`, each
 * probe on its own interval; a probe that can be told about changes (D-Bus signals) calls `onChange` so the
 * gate re-checks it at once.
 */
export interface Probe {
  readonly name: string;
  /** How often the gate polls this probe; defaults to the gate's interval. */
  readonly pollIntervalMs?: number;
  check(signal: AbortSignal): Promise<Observation>;
  watch?(onChange: () => void): void;
  close?(): Promise<void>;
}
