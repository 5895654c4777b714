/** What systemd says about one unit, and the words for it that probes, tasks and errors share. */
export interface UnitState {
  name: string;
  /** loaded, not-found, bad-setting, error, masked */
  loadState: string;
  /** active, reloading, inactive, failed, activating, deactivating */
  activeState: string;
  subState: string;
  /** A service's Result (exit-code, timeout, ...), read only when the unit failed. */
  result?: string;
}

/** What a PropertiesChanged signal said about the unit's state, when it said it. */
export interface UnitChange {
  activeState?: string;
  subState?: string;
}

/** A unit's state as a readiness observation: ready when active; `warn` for a state that will not mend alone. */
export interface UnitDescription {
  ready: boolean;
  detail: string;
  severity?: 'warn';
}

/** `active/running`, `activating/start`, `failed/failed (Result=exit-code)`, `not found (LoadState=not-found)`. */
export function describeUnit(s: UnitState): UnitDescription {
  if (s.loadState && s.loadState !== 'loaded') {
    const why = s.loadState === 'not-found' ? 'not found' : s.loadState === 'masked' ? 'masked' : 'not loaded';
    return { ready: false, detail: `${why} (LoadState=${s.loadState})`, severity: 'warn' };
  }
  const state = `${s.activeState}/${s.subState}`;
  if (s.activeState === 'active') return { ready: true, detail: state };
  if (s.activeState === 'failed') return { ready: false, detail: `${state}${s.result ? ` (Result=${s.result})` : ''}`, severity: 'warn' };
  return { ready: false, detail: state };
}
