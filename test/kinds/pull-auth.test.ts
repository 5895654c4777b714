// Credentials for pulls: a registry behind basic auth, reached as private ECR through a hosts.toml mirror, with
// the token from an ECR emulator driven by the real @aws-sdk/client-ecr. Nothing leaves 127.0.0.1: the ECR API
// is AWS_ENDPOINT_URL_ECR, IMDS is disabled, and each ECR host's hosts.toml names the local registry as its server.
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { connectContainerd } from '../../src/host/containerd/connection.js';
import { buildImage, pushImage, removeDir, requireRootAndBins, startContainerd, startRegistry, tempDir, writePlainHttpHosts } from '../harness/index.js';
import { startEcrServer } from '../emulators/ecr-server.js';
import { runTasks } from '../helpers/pull.js';

const BINS = { containerd: 'containerd', ctr: 'containerd', 'docker-registry': 'docker-registry', skopeo: 'skopeo', perl: 'perl-base' };
const ECR_WEST = '111122223333.dkr.ecr.us-west-2.amazonaws.com';
const ECR_EU = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';
const CREDS = { user: 'AWS', password: 'ecr-token-password-from-emulator' };

/** Routes an ECR host name to the local registry, as a node's mirror configuration would (no fallback to AWS). */
async function mirrorTo(hostsDir: string, ecrHost: string, registryHost: string): Promise<void> {
  await mkdir(join(hostsDir, ecrHost), { recursive: true });
  await writeFile(
    join(hostsDir, ecrHost, 'hosts.toml'),
    `server = "http://${registryHost}"\n\n[host."http://${registryHost}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
}

t.test('credentials: basic auth, ECR tokens through a mirror, the node config', async (t) => {
  if (!(await requireRootAndBins(t, BINS))) return;
  const ecr = await startEcrServer({ password: CREDS.password });
  t.teardown(ecr.close);
  const saved = { ...process.env };
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_ECR: ecr.url,
    AWS_ACCESS_KEY_ID: 'AKIDPOSTJOINTEST',
    AWS_SECRET_ACCESS_KEY: 'not-a-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/postjoin-aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/postjoin-aws-credentials',
  });
  delete process.env.AWS_PROFILE;

  const work = await tempDir('img');
  t.teardown(() => removeDir(work));
  const reg = await startRegistry({ auth: CREDS });
  t.teardown(reg.stop);
  // Debug level logs every registry request with its URL, so the test can prove none left loopback.
  const ctd = await startContainerd({ logLevel: 'debug' });
  t.teardown(ctd.stop);
  await writePlainHttpHosts(ctd.hostsDir, reg.host);
  await mirrorTo(ctd.hostsDir, ECR_WEST, reg.host);
  await mirrorTo(ctd.hostsDir, ECR_EU, reg.host);
  let n = 0;
  const push = async (repo: string, tag: string) => {
    const built = await buildImage(work, { name: repo, tag, index: 100 + n++ });
    return pushImage(work, built, reg.host, { creds: CREDS });
  };
  const conn = connectContainerd(ctd.socket);
  t.teardown(() => conn.close());

  t.test('anonymous pull from a basic-auth registry fails, naming the image and the refusal', async (t) => {
    const img = await push('private/anon', '1');
    const run = await runTasks(`  - name: anon\n    pull: { images: [${JSON.stringify(img.ref)}] }\n`, { socket: ctd.socket });
    t.equal(run.exitCode, 1);
    t.match(run.message, `1 of 1 image(s) failed: ${img.ref}: `);
    t.match(run.message, /401 Unauthorized|unauthorized|authorization/i);
    t.equal(ecr.tokenCalls().length, 0, 'no ECR call for a non-ECR registry');
  });

  t.test('private ECR: one token per registry per run, region from the host name, pulled via the mirror', async (t) => {
    const before = ecr.tokenCalls().length;
    for (const [repo, tag] of [['team/app', '1'], ['team/app', '2'], ['team/web', '1'], ['team/job', '1'], ['eu/api', '1']] as const) await push(repo, tag);
    const west = ['team/app:1', 'team/app:2', 'team/web:1'].map((r) => `${ECR_WEST}/${r}`);
    const run = await runTasks(
      `  - name: first\n    pull: { images: ${JSON.stringify(west)} }\n` +
        `  - name: second\n    pull: { images: ${JSON.stringify([`${ECR_WEST}/team/job:1`, `${ECR_EU}/eu/api:1`])} }\n`,
      { socket: ctd.socket },
    );
    t.equal(run.exitCode, 0, run.message ?? 'ok');
    const calls = ecr.tokenCalls().slice(before);
    t.equal(calls.length, 2, 'two registries, two GetAuthorizationToken calls for five images in two tasks');
    t.same(calls.map((c) => c.region).sort(), ['eu-west-1', 'us-west-2'], 'signed for the region in each host name');
    t.ok(calls.every((c) => c.accessKeyId === 'AKIDPOSTJOINTEST'), 'credentials from the default chain (env here)');
    t.same(calls[0]?.body, {}, 'no registryIds: the token is the node role\'s own');
    for (const ref of [...west, `${ECR_EU}/eu/api:1`]) t.ok(await conn.cri.imageStatus(ref), `kubelet finds ${ref} by its ECR name`);
    t.equal(run.images.length, 5);

    // A new run gets its own token, but only if it needs one: present images need no credentials.
    const again = await runTasks(`  - name: again\n    once: false\n    pull: { images: ${JSON.stringify(west)} }\n`, { socket: ctd.socket });
    t.equal(again.exitCode, 0, again.message ?? 'ok');
    t.equal(ecr.tokenCalls().length, before + 2, 'no token fetched when every image is present');
    const origins = new Set([...(await ctd.log()).matchAll(/url="?(https?:\/\/[^/" ]+)/g)].map((m) => m[1]));
    t.same([...origins], [`http://${reg.host}`], 'containerd sent every registry request to the local registry, none to AWS');
  });

  t.test('a refused GetAuthorizationToken names the missing permission', async (t) => {
    await push('team/denied', '1');
    ecr.refuseWith('AccessDeniedException');
    t.teardown(() => ecr.refuseWith(undefined));
    const ref = `${ECR_WEST}/team/denied:1`;
    const run = await runTasks(`  - name: denied\n    pull: { images: [${JSON.stringify(ref)}] }\n`, { socket: ctd.socket });
    t.equal(run.exitCode, 1);
    t.match(run.message, `${ref}: cannot get an ECR token for ${ECR_WEST} (GetAuthorizationToken in us-west-2): AccessDeniedException`);
    t.match(run.message, 'the node role needs ecr:GetAuthorizationToken');
  });

  t.test('no credentials at all (no role, IMDS off) says so', async (t) => {
    const keys = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    t.teardown(() => Object.assign(process.env, { AWS_ACCESS_KEY_ID: keys.id, AWS_SECRET_ACCESS_KEY: keys.secret }));
    const before = ecr.requests.length;
    const ref = `${ECR_WEST}/team/denied:1`;
    const run = await runTasks(`  - name: nocreds\n    pull: { images: [${JSON.stringify(ref)}] }\n`, { socket: ctd.socket });
    t.equal(run.exitCode, 1);
    t.match(run.message, `${ref}: cannot get an ECR token for ${ECR_WEST}`);
    t.match(run.message, 'the node has no AWS credentials (is an instance role attached?)');
    t.equal(ecr.requests.length, before, 'nothing was sent unsigned');
  });

  t.test('an unreachable ECR endpoint fails the image with the transport error, after the SDK retries', async (t) => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    process.env.AWS_ENDPOINT_URL_ECR = `http://127.0.0.1:${closed}`;
    t.teardown(() => void (process.env.AWS_ENDPOINT_URL_ECR = ecr.url));
    const ref = `${ECR_WEST}/team/denied:1`;
    const run = await runTasks(`  - name: unreachable\n    pull: { images: [${JSON.stringify(ref)}] }\n`, { socket: ctd.socket });
    t.equal(run.exitCode, 1);
    t.match(run.message, `${ref}: cannot get an ECR token for ${ECR_WEST} (GetAuthorizationToken in us-west-2): `);
    t.match(run.message, /ECONNREFUSED/);
  });

  t.test("without ECR, the node's containerd registry config supplies credentials", async (t) => {
    const img = await push('private/nodecfg', '1');
    const cri = 'plugins."io.containerd.grpc.v1.cri".registry.configs';
    const ctd2 = await startContainerd({ extraConfig: `[${cri}."${reg.host}".auth]\n  username = "${CREDS.user}"\n  password = "${CREDS.password}"\n` });
    t.teardown(ctd2.stop);
    await writePlainHttpHosts(ctd2.hostsDir, reg.host);
    const run = await runTasks(`  - name: nodecfg\n    pull: { images: [${JSON.stringify(img.ref)}] }\n`, { socket: ctd2.socket });
    t.equal(run.exitCode, 0, run.message ?? 'ok');
    t.match(run.images[0], { image: img.ref, pulled: true, pinned: true });
  });
});
