// The pull kind at plan time (reference grammar, defaults, the registries allow-list) and its small pure parts:
// docker's name normalization, ECR host detection, platforms, error wording, the per-run credential cache.
import t from 'tap';
import { RegistryCredentials } from '../../src/host/aws/registry-credentials.js';
import { ecrRegistry } from '../../src/host/aws/ecr-host.js';
import { parseImageRef } from '../../src/kinds/image-ref.js';
import { isGroup } from '../../src/plan/task.js';
import { conciseError } from '../../src/kinds/pull-image.js';
import { formatBytes, nodePlatform, samePlatform } from '../../src/kinds/pull-platform.js';
import { HEADER, config, planFrom, planProblems } from '../helpers/plan.js';

const F = 'file:/etc/postjoin/tasks.d/10-x.yaml';

const problems = planProblems;

t.test('references normalize the way docker and CRI do', async (t) => {
  const cases: [string, string, string][] = [
    ['nginx', 'docker.io', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io', 'docker.io/library/nginx:1.27'],
    ['bitnami/redis', 'docker.io', 'docker.io/bitnami/redis:latest'],
    ['docker.io/nginx', 'docker.io', 'docker.io/library/nginx:latest'],
    ['index.docker.io/grafana/grafana:11', 'docker.io', 'docker.io/grafana/grafana:11'],
    ['localhost/app', 'localhost', 'localhost/app:latest'],
    ['127.0.0.1:5000/team/app:v1', '127.0.0.1:5000', '127.0.0.1:5000/team/app:v1'],
    ['[::1]:5000/app', '[::1]:5000', '[::1]:5000/app:latest'],
    ['public.ecr.aws/eks-distro/kubernetes/pause:3.9', 'public.ecr.aws', 'public.ecr.aws/eks-distro/kubernetes/pause:3.9'],
    ['111122223333.dkr.ecr.us-west-2.amazonaws.com/app:1.2', '111122223333.dkr.ecr.us-west-2.amazonaws.com', '111122223333.dkr.ecr.us-west-2.amazonaws.com/app:1.2'],
    [`registry.k8s.io/pause@sha256:${'a'.repeat(64)}`, 'registry.k8s.io', `registry.k8s.io/pause@sha256:${'a'.repeat(64)}`],
    [`quay.io/x/y:1@sha256:${'b'.repeat(64)}`, 'quay.io', `quay.io/x/y:1@sha256:${'b'.repeat(64)}`],
  ];
  for (const [input, registry, normalized] of cases) {
    const r = parseImageRef(input);
    t.match(r, { ok: true, ref: { registry, normalized } }, input);
  }
  const bad: [string, RegExp][] = [
    ['foo bar', /expected \[registry\[:port\]\/\]repository/],
    ['nginx/Web', /must be lowercase/],
    ['NGINX', /must be lowercase/],
    ['nginx:', /expected/],
    ['', /expected/],
    ['c'.repeat(64).replace(/c/g, 'f'), /image ID, not a reference/],
    [`a/${'b'.repeat(260)}`, /longer than 255/],
  ];
  for (const [input, reason] of bad) t.match(parseImageRef(input), { ok: false, reason }, JSON.stringify(input));
});

t.test('private ECR hosts are recognised with their region; others are not', async (t) => {
  t.same(ecrRegistry('111122223333.dkr.ecr.us-west-2.amazonaws.com'), { account: '111122223333', region: 'us-west-2', fips: false });
  t.same(ecrRegistry('111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com'), { account: '111122223333', region: 'us-gov-west-1', fips: true });
  t.match(ecrRegistry('111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn'), { region: 'cn-north-1' });
  for (const h of ['public.ecr.aws', 'docker.io', '11112222333.dkr.ecr.us-west-2.amazonaws.com', '111122223333.dkr.ecr.us-west-2.amazonaws.com.evil.example', '127.0.0.1:5000']) {
    t.equal(ecrRegistry(h), undefined, h);
  }
});

t.test('a valid pull task takes its defaults', async (t) => {
  const plan = planFrom(`${HEADER}tasks:\n  - name: prepull\n    pull:\n      images: [nginx, public.ecr.aws/eks-distro/kubernetes/pause:3.9]\n`);
  const [step] = plan.steps;
  if (!step || isGroup(step)) throw new Error('expected a task');
  t.same(step.spec, { images: ['nginx', 'public.ecr.aws/eks-distro/kubernetes/pause:3.9'], concurrency: 4, pin: true });
  const full = planFrom(`${HEADER}tasks:\n  - name: p\n    pull: { images: [a/b], concurrency: 1, platform: linux/arm64/v8, pin: false }\n`);
  t.match(full.steps[0], { spec: { images: ['a/b'], concurrency: 1, platform: 'linux/arm64/v8', pin: false } });
});

t.test('bad specs are named at plan time, every one of them', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: p\n    pull:\n      images: [nginx, "ok/x:1", "foo bar", "Up/Per"]\n`), [
    `${F}: tasks[0].pull.images[2], line 6: "foo bar" is not an image reference: expected [registry[:port]/]repository[:tag][@digest]`,
    // docker reads "Up" as a registry host (it is not all lowercase), which leaves "Per" as the repository.
    `${F}: tasks[0].pull.images[3], line 6: "Up/Per" is not an image reference: repository names must be lowercase`,
  ]);
  t.same(problems(`${HEADER}tasks:\n  - name: p\n    pull: { images: [] }\n`), [`${F}: tasks[0].pull.images, line 5: pull.images needs at least one image`]);
  t.same(problems(`${HEADER}tasks:\n  - name: p\n    pull: { images: [a/b:1@sha256:zz] }\n`), [
    `${F}: tasks[0].pull.images[0], line 5: "a/b:1@sha256:zz" is not an image reference: expected [registry[:port]/]repository[:tag][@digest]`,
  ]);
  const many = problems(`${HEADER}tasks:\n  - name: p\n    pull: { images: nginx, concurrency: 0, platform: arm64, pin: "yes", registry: x }\n`);
  t.same(many, [
    `${F}: tasks[0].pull.images, line 5: expected a list of image references`,
    `${F}: tasks[0].pull.concurrency, line 5: concurrency must be at least 1`,
    `${F}: tasks[0].pull.platform, line 5: expected os/arch[/variant], such as "linux/arm64"`,
    `${F}: tasks[0].pull.pin, line 5: expected boolean, received string`,
    `${F}: tasks[0].pull.registry, line 5: unknown key "registry"`,
  ]);
});

t.test('policy.registries is applied to each image at plan time', async (t) => {
  const cfg = config({ policy: { registries: ['*.dkr.ecr.*.amazonaws.com', 'public.ecr.aws'] } });
  const yaml = `${HEADER}tasks:\n  - name: p\n    pull:\n      images: [nginx, 111122223333.dkr.ecr.us-west-2.amazonaws.com/app:1, public.ecr.aws/x/y, "quay.io/a/b:2"]\n`;
  t.same(problems(yaml, cfg), [
    `${F}#tasks[0]: task "p": image "nginx" is from registry "docker.io", which policy.registries does not allow (["*.dkr.ecr.*.amazonaws.com","public.ecr.aws"])`,
    `${F}#tasks[0]: task "p": image "quay.io/a/b:2" is from registry "quay.io", which policy.registries does not allow (["*.dkr.ecr.*.amazonaws.com","public.ecr.aws"])`,
  ]);
  t.same(problems(yaml), [], 'an empty list allows any registry');
  const group = `${HEADER}tasks:\n  - name: g\n    parallel:\n      tasks:\n        - { name: m, pull: { images: ["ghcr.io/o/i:1"] } }\n`;
  t.match(problems(group, cfg), [/task "m": image "ghcr.io\/o\/i:1" is from registry "ghcr.io"/], 'a group member is checked');
});

t.test('platforms, sizes and error wording', async (t) => {
  t.equal(nodePlatform('x64'), 'linux/amd64');
  t.equal(nodePlatform('arm64'), 'linux/arm64');
  t.ok(samePlatform('linux/arm64/v8', 'linux/arm64'));
  t.ok(samePlatform('linux/x86_64', 'linux/amd64'));
  t.ok(samePlatform('linux/aarch64', 'linux/arm64'));
  t.notOk(samePlatform('linux/arm64', 'linux/amd64'));
  t.notOk(samePlatform('linux/arm/v7', 'linux/arm/v6'));
  t.same([0, 1023, 1024, 1536, 10 << 20, 3 * 2 ** 30].map(formatBytes), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '10 MiB', '3.0 GiB']);
  const img = '127.0.0.1:5000/app:1';
  t.equal(
    conciseError(img, new Error(`failed to pull and unpack image "${img}": failed to resolve reference "${img}": ${img}: not found`)),
    'failed to resolve reference: not found',
  );
  t.equal(conciseError(img, new Error(`x${'y'.repeat(400)}`)).length, 300);
});

t.test('one ECR token per registry per run; shared while in flight; a failure is forgotten', async (t) => {
  const calls: string[] = [];
  let fail = true;
  const creds = new RegistryCredentials(async (host, ecr) => {
    calls.push(`${host} ${ecr.region}`);
    await new Promise((r) => setTimeout(r, 20));
    if (fail) throw new Error('throttled');
    return { username: 'AWS', password: `token-${calls.length}` };
  });
  const west = '111122223333.dkr.ecr.us-west-2.amazonaws.com';
  t.equal(await creds.forRegistry('docker.io'), undefined, 'no credentials for other registries');
  await t.rejects(Promise.all([creds.forRegistry(west), creds.forRegistry(west)]), /throttled/);
  t.equal(calls.length, 1, 'concurrent callers share one request');
  fail = false;
  const [a, b] = await Promise.all([creds.forRegistry(west), creds.forRegistry(west)]);
  t.same(a, { username: 'AWS', password: 'token-2' }, 'asked again after the failure');
  t.equal(a, b);
  t.same(await creds.forRegistry(west), a, 'then cached');
  await creds.forRegistry('444455556666.dkr.ecr.eu-west-1.amazonaws.com');
  t.same(calls, [`${west} us-west-2`, `${west} us-west-2`, '444455556666.dkr.ecr.eu-west-1.amazonaws.com eu-west-1']);
});
