/**
 * The side-effect adapters a task or probe may need, acquired lazily: a plan that needs no D-Bus never
 * connects to it (design §4). `close()` releases whatever was opened, so the process can exit.
 */
export interface Host {
  close(): Promise<void>;
}

export function createHost(): Host {
  return {
    async close() {},
  };
}
