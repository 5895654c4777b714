import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BUNDLE = join(ROOT, 'dist/postjoin.cjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real bundle (or another build of the CLI), as the unit would, and collects its output. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (pid: number) => void; bundle?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [opts.bundle ?? BUNDLE, ...args], {
      env: { ...process.env, JOURNAL_STREAM: '', NOTIFY_SOCKET: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    if (child.pid) opts.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Parses the JSON log lines a `run` wrote to stdout. */
export function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l.replace(/^<\d>/, '')) as Record<string, unknown>);
}

/**
 * The run's closing summary (`run succeeded: …` / `run failed: …`). Not always the last line: with
 * kubernetes.enabled auto and no kubelet kubeconfig, the report's info line saying so comes after it.
 */
export function runSummary(lines: Record<string, unknown>[]): Record<string, unknown> | undefined {
  return lines.find((l) => /^run (succeeded|failed)/.test(String(l.msg)));
}

export interface Workspace {
  dir: string;
  tasksDir: string;
  stateDir: string;
  configPath: string;
  /** Writes a file under tasksDir. */
  task(name: string, body: string): Promise<string>;
}

/** A temp dir with a config that reads only the file source and switches readiness and IMDS off. */
export async function workspace(extraConfig = ''): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-test-'));
  const tasksDir = join(dir, 'tasks.d');
  const stateDir = join(dir, 'state');
  await mkdir(tasksDir);
  const configPath = join(dir, 'config.yaml');
  await writeFile(
    configPath,
    `sources: [file]\ntasksDir: ${tasksDir}\nimds: { enabled: false }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\n${extraConfig}`,
  );
  return {
    dir,
    tasksDir,
    stateDir,
    configPath,
    async task(name, body) {
      const p = join(tasksDir, name);
      await writeFile(p, body);
      return p;
    },
  };
}

export function taskList(tasksYaml: string): string {
  return `apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n${tasksYaml}`;
}
