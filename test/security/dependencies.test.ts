// SECURITY.md, "Dependencies": the findings of the last audit of the production tree, each with the reason it
// does not reach postjoin, kept true by a test. (`npm audit` itself cannot run here; SECURITY.md says why.)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/cli.js';

const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

t.test('xml2js <0.5.0 (GHSA-776f-qx25-q3cc, prototype pollution when parsing XML) comes only with dbus-next, whose parser postjoin never calls', async (t) => {
  t.equal(version('dbus-next'), '0.10.2', 'the dbus-next the audit looked at; a new one needs a new look');
  // dbus-next parses XML only in ProxyObject (bus introspection); postjoin sends plain method calls.
  const users = sources(join(ROOT, 'src')).filter((f) => /getProxyObject|ProxyObject|Introspect/.test(readFileSync(f, 'utf8')));
  t.same(users, [], 'no source file builds a ProxyObject or introspects');
  const dbusLib = readFileSync(join(ROOT, 'node_modules/dbus-next/lib/client/proxy-object.js'), 'utf8');
  t.match(dbusLib, /parseString/, 'the parser is where the audit found it');
});

t.test('event-stream (from dbus-next) is not the compromised 3.3.6, and flatmap-stream is not installed', async (t) => {
  t.not(version('event-stream'), '3.3.6');
  t.notOk(existsSync(join(ROOT, 'node_modules/flatmap-stream')));
});
