// Asks for an ECR token the way a `pull` task does (the Host's RegistryCredentials, which loads the SDK lazily), in
// a process of its own: run in the proxy world's network namespace by test/system/proxy.test.ts, where the ECR
// endpoint's name resolves only through the proxy. Prints {"ok":{"username"}} or {"error":"…"} on stdout.
import { RegistryCredentials } from '../../src/host/aws/registry-credentials.js';

export async function main(argv: string[]): Promise<void> {
  const [registry] = argv;
  if (!registry) throw new Error('usage: proxy-ecr-probe <registry host>');
  try {
    const auth = await new RegistryCredentials().forRegistry(registry);
    process.stdout.write(`${JSON.stringify({ ok: { username: auth?.username } })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  }
}
