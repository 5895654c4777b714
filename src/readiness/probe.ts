/** What a probe saw on its last look. `detail` is what the SRE reads when readiness times out. */
export interface Observation {
  ready: boolean;
  detail: string;
}

/**
 * One readiness condition (kubelet healthz, a unit's state, containerd's CRI). The gate polls `check`;
 * a probe that can be told about changes (D-Bus signals) calls `onChange` so the gate re-checks at once.
 */
export interface Probe {
  readonly name: string;
  check(signal: AbortSignal): Promise<Observation>;
  watch?(onChange: () => void): void;
  close?(): Promise<void>;
}
