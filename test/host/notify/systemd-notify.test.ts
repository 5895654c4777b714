// The status reporter: `Status:` in `systemctl status` through systemd-notify, rate-limited, best-effort.
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createStatusReporter } from '../../../src/host/notify/systemd-notify.js';

t.test('systemd-notify: statuses reach the notify socket, rate-limited, the last one always sent', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-notify-'));
  const sock = join(dir, 'notify');
  // A real AF_UNIX datagram socket, as systemd's; Node cannot open one, python can.
  const listener = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    print(s.recv(4096).decode(), flush=True)
`, sock]);
  t.teardown(() => void listener.kill());
  let got = '';
  listener.stdout.on('data', (c: Buffer) => (got += c.toString()));
  while (!got.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const reporter = createStatusReporter({ ...process.env, NOTIFY_SOCKET: sock });
  for (let i = 1; i <= 20; i++) reporter.status(`task ${i}/20 x`);
  await reporter.flush();
  reporter.status('done: all tasks succeeded');
  await reporter.flush();
  const end = Date.now() + 3000;
  while (!got.includes('done: all tasks succeeded') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  const statuses = got.split('\n').filter((l) => l.startsWith('STATUS='));
  t.ok(statuses.length <= 3, `rate-limited: ${statuses.length} sends for 21 updates`);
  t.ok(statuses.includes('STATUS=task 20/20 x'), 'the latest pending status wins');
  t.equal(statuses.at(-1), 'STATUS=done: all tasks succeeded');
});

t.test('without NOTIFY_SOCKET, or without the binary, reporting is a silent no-op', async (t) => {
  const none = createStatusReporter({});
  none.status('x');
  await none.flush();
  const missing = createStatusReporter({ NOTIFY_SOCKET: '/nonexistent' }, '/nonexistent/systemd-notify');
  missing.status('x');
  await t.resolves(missing.flush());
});
