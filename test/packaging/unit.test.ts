// systemd/postjoin.service: the design's contract (§2), hardening that cannot break the job, each line of
// it explained, and `systemd-analyze verify` clean with an empty stderr.
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { agentConfigSchema, toAgentConfig } from '../../src/config/agent-config.js';
import { parseDuration } from '../../src/base/duration.js';
import { requireReal, which } from '../harness/require-real.js';
import { BUNDLE } from '../helpers/cli.js';
import { ROOT, run } from '../helpers/packaging.js';

const UNIT_PATH = join(ROOT, 'systemd/postjoin.service');
const text = await readFile(UNIT_PATH, 'utf8');

interface Directive {
  section: string;
  key: string;
  value: string;
  /** The comment lines directly above it. */
  comment: string[];
}

function parseUnit(unit: string): Directive[] {
  const out: Directive[] = [];
  let section = '';
  let comment: string[] = [];
  for (const line of unit.split('\n')) {
    if (/^\s*[#;]/.test(line)) comment.push(line.replace(/^\s*[#;]\s?/, ''));
    else if (/^\[.+\]$/.test(line.trim())) {
      section = line.trim().slice(1, -1);
      comment = [];
    } else if (line.includes('=')) {
      const i = line.indexOf('=');
      out.push({ section, key: line.slice(0, i).trim(), value: line.slice(i + 1).trim(), comment });
      comment = [];
    } else comment = [];
  }
  return out;
}

const directives = parseUnit(text);
const get = (section: string, key: string) => directives.filter((d) => d.section === section && d.key === key).map((d) => d.value);

/** Sandboxing directives systemd knows; any of them in the unit must carry its own explanation. */
const HARDENING =
  /^(Protect\w+|Private\w+|Restrict\w+|NoNewPrivileges|LockPersonality|MemoryDenyWriteExecute|SystemCall\w+|CapabilityBoundingSet|AmbientCapabilities|ReadOnlyPaths|ReadWritePaths|InaccessiblePaths|DevicePolicy|DeviceAllow|IPAddress\w+|UMask|KeyringMode|RemoveIPC|DynamicUser|User|Group)$/;

/** Each would break something a task legitimately does (the unit's comments say what). */
const MUST_NOT = {
  ProtectSystem: 'dnf writes /usr, tasks write /etc and /opt',
  ProtectHome: 'its mount namespace would hide the disks tasks mount',
  PrivateTmp: 'its mount namespace would hide the disks tasks mount',
  PrivateDevices: 'tasks format instance-store disks',
  ProtectKernelTunables: 'tasks run sysctl -w',
  ProtectKernelModules: 'tasks run modprobe',
  ProtectControlGroups: 'its mount namespace would hide the disks tasks mount',
  ProtectClock: 'it implies a device allow-list, which breaks mkfs',
  NoNewPrivileges: 'it blocks SELinux transitions of dnf scriptlets',
  RestrictSUIDSGID: 'dnf installs setuid files',
  MemoryDenyWriteExecute: 'the V8 JIT needs it',
  User: 'the job needs root',
  DynamicUser: 'the job needs root',
  CapabilityBoundingSet: 'the job needs every capability root has',
};

t.test('the design\'s contract (§2)', async (t) => {
  t.same(get('Service', 'Type'), ['oneshot']);
  t.same(get('Service', 'RemainAfterExit'), ['yes']);
  t.same(get('Service', 'ExecStart'), ['/usr/bin/postjoin run']);
  t.same(get('Service', 'NotifyAccess'), ['all'], 'systemd-notify --status from a child is accepted');
  t.same(get('Service', 'KillMode'), ['mixed']);
  const after = get('Unit', 'After').join(' ').split(/\s+/);
  for (const u of ['nodeadm-run.service', 'containerd.service', 'kubelet.service']) t.ok(after.includes(u), `After=${u}`);
  for (const key of ['Requires', 'BindsTo', 'Requisite']) t.same(get('Unit', key), [], `no ${key}= (AMIs without nodeadm)`);
  t.same(get('Install', 'WantedBy'), ['multi-user.target']);

  // oneshot has no start timeout by default; this one must sit above the agent's own deadline.
  const startTimeout = get('Service', 'TimeoutStartSec')[0];
  t.ok(startTimeout, 'TimeoutStartSec is set');
  const unitMs = parseDuration(startTimeout!.replace(/min$/, 'm'));
  const agentMs = toAgentConfig(agentConfigSchema.parse({}), '').runTimeoutMs;
  t.ok(unitMs.ok && unitMs.ms > agentMs, `TimeoutStartSec=${startTimeout} > runTimeout default ${agentMs / 60_000}m`);
});

t.test('hardening: each line explained, nothing that breaks the job', async (t) => {
  const hardening = directives.filter((d) => d.section === 'Service' && HARDENING.test(d.key));
  t.ok(hardening.length >= 3, `some hardening: ${hardening.map((d) => d.key).join(', ')}`);
  for (const d of hardening) {
    t.ok(d.comment.join(' ').length >= 30, `${d.key}=${d.value} has a comment saying why`);
  }
  for (const [key, why] of Object.entries(MUST_NOT)) t.same(get('Service', key), [], `no ${key}= (${why})`);
  t.same(get('Service', 'SystemCallArchitectures'), ['native']);
});

t.test('systemd-analyze verify is clean: exit 0 and nothing on stderr', async (t) => {
  const analyze = await which('systemd-analyze');
  if (!(await requireReal(t, 'systemd-analyze', () => analyze !== undefined, 'apt-get install -y --no-install-recommends systemd'))) return;
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-unit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // verify fails on an ExecStart binary missing on this machine, so the copy runs the bundle with this Node.
  const node = await realpath(process.execPath);
  const unit = join(dir, 'postjoin.service');
  await writeFile(unit, text.replace(/^ExecStart=\/usr\/bin\/postjoin run$/m, `ExecStart=${node} ${BUNDLE} run`));
  const r = await run(analyze!, ['verify', unit]);
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  t.equal(r.stderr, '', 'no warning either (unknown keys are only warnings)');

  // The empty-stderr check catches what exit 0 lets through: a misspelt key.
  const typo = join(dir, 'typo.service');
  await writeFile(typo, text.replace('LockPersonality=yes', 'LockPersonalty=yes').replace(/^ExecStart=.*$/m, `ExecStart=${node} ${BUNDLE} run`));
  const bad = await run(analyze!, ['verify', typo]);
  t.equal(bad.status, 0, 'an unknown key still exits 0 ...');
  t.match(bad.stderr, /Unknown key( name)? 'LockPersonalty'/, '... but warns');

  const security = await run(analyze!, ['security', '--offline=true', unit]);
  const score = /Overall exposure level for postjoin.service: ([\d.]+)/.exec(security.stdout + security.stderr)?.[1];
  t.comment(`systemd-analyze security --offline: exposure ${score ?? 'unknown'} (a root agent that runs arbitrary tasks stays high by design)`);
});

// systemd/postjoin-report.service: delivers a report the run could not make, retrying for a bounded time, without
// ever holding a start job (boot, postjoin.service) while it waits for an API server.
const REPORT_PATH = join(ROOT, 'systemd/postjoin-report.service');
const reportText = await readFile(REPORT_PATH, 'utf8');
const reportDirectives = parseUnit(reportText);
const getReport = (section: string, key: string) => reportDirectives.filter((d) => d.section === section && d.key === key).map((d) => d.value);

t.test('postjoin-report.service: pulled in by postjoin.service, after it, part of it; exec, so no start job waits for it', async (t) => {
  t.ok(get('Unit', 'Wants').join(' ').split(/\s+/).includes('postjoin-report.service'), 'postjoin.service Wants= it');
  t.same(getReport('Unit', 'After'), ['postjoin.service'], 'after the run, whatever its result');
  t.same(getReport('Unit', 'PartOf'), ['postjoin.service'], 'stop and restart of postjoin reach it');
  for (const key of ['Requires', 'BindsTo', 'Requisite']) t.same(getReport('Unit', key), [], `no ${key}=`);
  t.notMatch(reportText, /^\[Install\]/m, 'no [Install]: nothing to enable, it runs when postjoin.service does');
  t.same(getReport('Service', 'Type'), ['exec'], 'exec: its start job ends when the process runs');
  t.same(getReport('Service', 'Restart'), [], 'the backoff is the agent\'s own; systemd 252 has no RestartSteps=');
  t.same(getReport('Service', 'NotifyAccess'), ['all']);
  const exec = getReport('Service', 'ExecStart');
  t.match(exec, [/^\/usr\/bin\/postjoin report --retry-for (\S+)$/]);
  const bound = parseDuration(/--retry-for (\S+)$/.exec(exec[0] ?? '')?.[1]);
  t.ok(bound.ok && bound.ms >= 10 * 60_000, 'a bound of at least ten minutes: a control-plane blip is over by then');
  const hardening = reportDirectives.filter((d) => d.section === 'Service' && HARDENING.test(d.key));
  t.ok(hardening.length >= 5, `hardened: ${hardening.map((d) => d.key).join(', ')}`);
  for (const d of hardening) t.ok(d.comment.join(' ').length >= 30, `${d.key}=${d.value} has a comment saying why`);
  t.same(getReport('Service', 'MemoryDenyWriteExecute'), [], 'no MemoryDenyWriteExecute (the V8 JIT)');
});

t.test('systemd-analyze verify of both units together is clean: exit 0 and nothing on stderr', async (t) => {
  const analyze = await which('systemd-analyze');
  if (!(await requireReal(t, 'systemd-analyze', () => analyze !== undefined, 'apt-get install -y --no-install-recommends systemd'))) return;
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-units-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const node = await realpath(process.execPath);
  await writeFile(join(dir, 'postjoin.service'), text.replace(/^ExecStart=\/usr\/bin\/postjoin run$/m, `ExecStart=${node} ${BUNDLE} run`));
  await writeFile(join(dir, 'postjoin-report.service'), reportText.replace(/^ExecStart=\/usr\/bin\/postjoin report /m, `ExecStart=${node} ${BUNDLE} report `));
  const r = await run(analyze!, ['verify', join(dir, 'postjoin.service'), join(dir, 'postjoin-report.service')]);
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  t.equal(r.stderr, '', 'no warning either');
});
