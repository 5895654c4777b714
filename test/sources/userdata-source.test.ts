import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { InvalidInput, SourceUnreadable } from '../../src/base/errors.js';
import { createImdsClient } from '../../src/host/aws/imds-client.js';
import { buildPlan } from '../../src/plan/build-plan.js';
import { readSources } from '../../src/sources/read-sources.js';
import { userdataSource } from '../../src/sources/userdata-source.js';
import { silentLogger } from '../../src/report/logger.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { ROOT } from '../helpers/cli.js';
import { config, sourceContext } from '../helpers/plan.js';
import { hostFor } from '../../src/verbs/load-plan.js';

const fixture = (f: string) => readFileSync(join(ROOT, 'test/fixtures/userdata', f));
const userdataConfig = () => config({ sources: ['userdata'], imds: { enabled: true, budget: '1s' } });

async function read(userData: Buffer | string | undefined) {
  const imds = await startImdsServer({ userData });
  try {
    const ctx = sourceContext(userdataConfig(), silentLogger(), createImdsClient({ endpoint: imds.url, budgetMs: 1000 }));
    return await userdataSource.read(ctx);
  } finally {
    await imds.close();
  }
}

t.test('the postjoin parts of the user data, read through IMDS, become tasks with part origins', async (t) => {
  const tasks = await read(fixture('05-several-parts.mime'));
  t.same(
    tasks.map((st) => [st.origin, st.source]),
    [
      ['userdata:part[2]#tasks[0]', 'userdata'],
      ['userdata:part[2]#tasks[1]', 'userdata'],
      ['userdata:part[4]#tasks[0]', 'userdata'],
    ],
  );
  const plan = buildPlan(tasks, userdataConfig().policy);
  t.same(
    plan.steps.map((s) => `${s.name} ${s.kind} ${s.origin}`),
    ['hello exec userdata:part[2]#tasks[0]', 'tune script userdata:part[2]#tasks[1]', 'second exec userdata:part[4]#tasks[0]'],
  );
});

t.test('gzip+base64 user data, as launch templates carry it, decodes the same', async (t) => {
  const tasks = await read(gzipSync(fixture('05-several-parts.mime')).toString('base64'));
  t.equal(tasks.length, 3);
});

t.test('no user data (404), or user data that is not multipart, means no tasks', async (t) => {
  t.same(await read(undefined), []);
  t.same(await read('#!/bin/bash\necho hi\n'), []);
  t.same(await read(fixture('06-no-postjoin-part.mime')), []);
});

t.test('a bad task document in a part names the part and the line; every part is reported', async (t) => {
  const mime = (body1: string, body2: string) =>
    `Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/postjoin+yaml\n\n${body1}\n--b\nContent-Type: text/x-shellscript\n\necho\n--b\nContent-Type: application/postjoin+yaml\n\n${body2}\n--b--\n`;
  const bad1 = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n  - name: a\n    exec:\n      command: /bin/true\n      args: nope\n';
  const bad2 = 'apiVersion: postjoin/v1\nkind: TaskList\ntasks: []\n';
  const tasks = await read(mime(bad1, 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks: []\n'));
  const err = t.throws(() => buildPlan(tasks, userdataConfig().policy)) as unknown as InvalidInput;
  t.match(err.message, 'userdata:part[0]: tasks[0].exec.args, line 7: expected a list of strings');
  const err2 = (await read(mime(bad1, bad2)).catch((e: unknown) => e)) as InvalidInput;
  t.type(err2, InvalidInput);
  t.match(err2.message, /userdata:part\[2\]: apiVersion, line 1: expected apiVersion "postjoin\/v1alpha1"/);
});

t.test('an unknown YAML tag in a part is an error naming the part and the line', async (t) => {
  const part = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n  - { name: a, script: !bash "echo hi" }\n';
  const err = (await read(`Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/postjoin+yaml\n\n${part}\n--b--\n`).catch((e: unknown) => e)) as InvalidInput;
  t.type(err, InvalidInput);
  t.same(err.problems, [{ source: 'userdata:part[0]', line: 4, message: 'unknown YAML tag !bash; postjoin reads plain YAML 1.2 (its tags are !!str, !!int, !!bool, !!float, !!null, !!seq and !!map)' }]);
});

t.test('a malformed multipart is exit 2, naming the part and its type', async (t) => {
  const err = (await read(fixture('e03-bad-base64-part.mime')).catch((e: unknown) => e)) as InvalidInput;
  t.type(err, InvalidInput);
  t.equal(err.exitCode, 2);
  t.same(err.problems, [
    { source: 'userdata:part[1]', message: 'application/postjoin+yaml part: Content-Transfer-Encoding is base64, but the body is not valid base64' },
  ]);
});

t.test('IMDS down beyond the budget is exit 4 from readSources, naming IMDS', async (t) => {
  const imds = await startImdsServer({ userData: fixture('01-lf.mime') });
  t.teardown(imds.close);
  imds.setDown({ kind: 'status', status: 500 });
  const saved = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.url; // the run's Host makes the client from the config
  t.teardown(() => {
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = saved;
  });
  const cfg = userdataConfig();
  const log = silentLogger();
  const err = await readSources(cfg.sources, { log, host: hostFor(cfg, log), settings: cfg }).catch((e: unknown) => e);
  t.type(err, SourceUnreadable);
  t.match((err as Error).message, `IMDS ${imds.url}: /latest/user-data: no answer within imds.budget (1s)`);
});
