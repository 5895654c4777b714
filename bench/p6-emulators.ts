// The fleet simulation's AWS side, in a process of its own so that the simulated nodes' CPU never delays an
// answer or the EC2 token bucket's clock: the IMDS emulator (with an instance role, as on a node) and the EC2
// Query emulator enforcing EC2's request token bucket (100 tokens, 20 per second, RequestLimitExceeded when
// empty). It prints its endpoints as one JSON line, answers "stats" lines on stdin, and exits when stdin ends.
//
//   node bench/out/p6-emulators.js --tags-in-metadata true|false --instance ID
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startEc2Server } from '../test/emulators/ec2-server.js';
import { startImdsServer } from '../test/emulators/imds-server.js';

const { values } = parseArgs({ options: { 'tags-in-metadata': { type: 'string', default: 'true' }, instance: { type: 'string', default: 'i-0fee1dab1e0c0ffee' } } });
const instanceId = values.instance!;
const FLEET_TAGS: Record<string, string> = {
  'postjoin:10-prepull': 'pull public.ecr.aws/eks-distro/kubernetes/pause:3.9 public.ecr.aws/docker/library/busybox:1.36',
  'postjoin:20-agent': 'unit restart amazon-cloudwatch-agent.service',
  'postjoin:30-wait': 'wait url http://127.0.0.1:4317/',
  Name: 'fleet-node',
  'eks:nodegroup-name': 'bench',
};

const imds = await startImdsServer({
  instanceId,
  region: 'us-east-1',
  tags: FLEET_TAGS,
  tagsInMetadata: values['tags-in-metadata'] === 'true',
  role: { name: 'bench-node-role', accessKeyId: 'ASIABENCH', secretAccessKey: 'bench-secret', token: 'bench-token' },
});
const ec2 = await startEc2Server({ instances: { [instanceId]: FLEET_TAGS }, tokenBucket: { capacity: 100, refillPerSecond: 20 } });
process.stdout.write(`${JSON.stringify({ imds: imds.url, ec2: ec2.url })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'stats') return;
  const byCode: Record<string, number> = {};
  for (const r of ec2.requests) byCode[r.code ?? String(r.status)] = (byCode[r.code ?? String(r.status)] ?? 0) + 1;
  const imdsByPath: Record<string, number> = {};
  for (const r of imds.requests) {
    const key = r.path.startsWith('/latest/meta-data/tags/instance/') ? '/latest/meta-data/tags/instance/KEY' : r.path;
    imdsByPath[key] = (imdsByPath[key] ?? 0) + 1;
  }
  process.stdout.write(
    `${JSON.stringify({
      ec2Calls: ec2.requests.length,
      ec2Throttled: ec2.requests.filter((r) => r.code === 'RequestLimitExceeded').length,
      ec2ByCode: byCode,
      imdsCalls: imds.requests.length,
      imdsByPath,
      imdsFailed: imds.requests.filter((r) => r.outcome !== 200 && r.outcome !== 404).length,
    })}\n`,
  );
});
lines.on('close', async () => {
  await Promise.all([imds.close(), ec2.close()]);
  process.exit(0);
});
