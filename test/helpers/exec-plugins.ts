// Real exec credential plugins (client.authentication.k8s.io), as small Node scripts run as child processes:
// each records its argv, its KUBERNETES_EXEC_INFO and its environment, and counts its runs, so tests can
// see what the client passed it and how often it ran.
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PluginCall {
  argv: string[];
  execInfo: unknown;
  env: Record<string, string | undefined>;
}

export interface Plugin {
  command: string;
  calls(): Promise<PluginCall[]>;
}

type Behaviour =
  | { kind: 'token'; apiVersion?: string; token?: string | ((n: number) => string); expiresInS?: number }
  | { kind: 'cert'; apiVersion?: string; certPem: string; keyPem: string }
  | { kind: 'fail'; code: number; stderr: string }
  /** Starts a grandchild that also sleeps, then hangs: a cut must kill both. */
  | { kind: 'hang'; pidFile: string }
  | { kind: 'print'; stdout: string }
  | { kind: 'flood' }
  /** Prints a token and exits, leaving a child in its group that still holds its stdout; the child's pid goes to pidFile. */
  | { kind: 'leave'; pidFile: string };

/** Writes an executable plugin script; `behaviour` says what it prints. */
export async function execPlugin(b: Behaviour, dir?: string): Promise<Plugin> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'postjoin-plugin-')));
  const n = (await mkdtemp(join(d, 'p-'))).slice(d.length + 1);
  const command = join(d, n, 'plugin');
  const log = join(d, n, 'calls.jsonl');
  const tokenFn = b.kind === 'token' && typeof b.token === 'function' ? b.token.toString() : undefined;
  const script = `#!${process.execPath}
const fs = require('fs');
const b = ${JSON.stringify(b)};
const log = ${JSON.stringify(log)};
let info = null; try { info = JSON.parse(process.env.KUBERNETES_EXEC_INFO); } catch {}
fs.appendFileSync(log, JSON.stringify({ argv: process.argv.slice(2), execInfo: info, env: { PLUGIN_ENV: process.env.PLUGIN_ENV, NOTIFY_SOCKET: process.env.NOTIFY_SOCKET, WATCHDOG_USEC: process.env.WATCHDOG_USEC, LISTEN_FDS: process.env.LISTEN_FDS } }) + '\\n');
const n = fs.readFileSync(log, 'utf8').trim().split('\\n').length;
const v = b.apiVersion || (info && info.apiVersion) || 'client.authentication.k8s.io/v1beta1';
if (b.kind === 'token') {
  const token = ${tokenFn ? `(${tokenFn})(n)` : 'b.token || "plugin-token"'};
  const status = { token };
  if (b.expiresInS !== undefined) status.expirationTimestamp = new Date(Date.now() + b.expiresInS * 1000).toISOString().replace(/\\.\\d+Z$/, 'Z');
  process.stdout.write(JSON.stringify({ apiVersion: v, kind: 'ExecCredential', status }));
} else if (b.kind === 'cert') {
  process.stdout.write(JSON.stringify({ apiVersion: v, kind: 'ExecCredential', status: { clientCertificateData: b.certPem, clientKeyData: b.keyPem } }));
} else if (b.kind === 'fail') {
  process.stderr.write('some noise\\n' + b.stderr + '\\n\\n');
  process.exit(b.code);
} else if (b.kind === 'hang') {
  const child = require('child_process').spawn('sleep', ['1000'], { stdio: 'ignore' });
  fs.writeFileSync(b.pidFile, process.pid + ' ' + child.pid);
  setInterval(() => {}, 1000);
} else if (b.kind === 'print') {
  process.stdout.write(b.stdout);
} else if (b.kind === 'leave') {
  const child = require('child_process').spawn('sleep', ['1000'], { stdio: ['ignore', 'inherit', 'ignore'] });
  fs.writeFileSync(b.pidFile, String(child.pid));
  process.stdout.write(JSON.stringify({ apiVersion: v, kind: 'ExecCredential', status: { token: 'left-behind' } }), () => process.exit(0));
} else if (b.kind === 'flood') {
  const chunk = 'x'.repeat(65536);
  const more = () => { while (process.stdout.write(chunk)); process.stdout.once('drain', more); };
  more();
}
`;
  await writeFile(command, script);
  await chmod(command, 0o755);
  return {
    command,
    async calls() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as PluginCall);
    },
  };
}
