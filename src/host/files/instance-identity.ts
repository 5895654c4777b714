import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Which machine this is, for `once`: a task done on this instance is not redone on reboot, but state baked
 * into an AMI by mistake does not count on a new instance. IMDS provides the real instance ID; this
 * interface lets the IMDS-free fallback stand in when IMDS is switched off.
 */
export interface InstanceIdentity {
  instanceId(): Promise<string>;
}

export const MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];

/** `/etc/machine-id`, else D-Bus's copy, else an ID generated once and kept in the state dir. */
export function machineIdIdentity(stateDir: string, files: readonly string[] = MACHINE_ID_FILES): InstanceIdentity {
  return {
    async instanceId() {
      for (const f of files) {
        const id = (await readFile(f, 'utf8').catch(() => '')).trim();
        if (id) return `machine-id:${id}`;
      }
      const kept = join(stateDir, 'instance-id');
      const existing = (await readFile(kept, 'utf8').catch(() => '')).trim();
      if (existing) return existing;
      const generated = `generated:${randomBytes(16).toString('hex')}`;
      await writeFile(kept, `${generated}\n`, { mode: 0o600 });
      return generated;
    },
  };
}

export async function readBootId(path = '/proc/sys/kernel/random/boot_id'): Promise<string | undefined> {
  const id = (await readFile(path, 'utf8').catch(() => '')).trim();
  return id || undefined;
}
