// The kinds catalog: one entry per kind, each with its summary, schema and tags-by-default flag, and what the
// config, the schema and the tag grammar derive from it (nothing there is written out per kind).
import t from 'tap';
import { defaultConfig } from '../../src/config/agent-config.js';
import { kindNamed, kindNames, taskKinds } from '../../src/kinds/registry.js';
import { taskDocumentJsonSchema } from '../../src/plan/json-schema.js';
import { tagKinds } from '../../src/sources/tag-grammar.js';

t.test('every kind once, each with a summary, a schema, a run and a tags-by-default flag', async (t) => {
  t.same(kindNames(), ['exec', 'script', 'file', 'pull', 'unit', 'wait']);
  for (const k of taskKinds) {
    t.ok(k.summary.length > 0 && typeof k.run === 'function' && typeof k.schema.safeParse === 'function', k.kind);
    t.type(k.tagsByDefault, 'boolean', `${k.kind} says whether tags may use it by default`);
    t.equal(kindNamed(k.kind), k);
  }
  t.equal(kindNamed('parallel'), undefined, 'a group is a step, not a kind');
});

t.test('the default allow-lists derive from the catalog: every kind from files and user data, the tags-by-default ones from tags', async (t) => {
  const policy = defaultConfig().policy;
  t.same(policy.file.allow, kindNames());
  t.same(policy.userdata.allow, kindNames());
  t.same(policy.tags.allow, taskKinds.filter((k) => k.tagsByDefault).map((k) => k.kind));
  t.same(policy.tags.allow, ['pull', 'unit', 'wait'], 'none of them runs code of the tagger');
});

t.test('the tag grammar takes the kinds with a tag form: those tags may use by default first', async (t) => {
  t.same(tagKinds(), ['pull', 'unit', 'wait', 'exec', 'script']);
  t.same(taskKinds.filter((k) => !k.tagForm).map((k) => k.kind), ['file']);
});

t.test('the JSON Schema has one task form per kind, from its own schema and summary', async (t) => {
  const schema = taskDocumentJsonSchema() as { properties: { tasks: { items: { anyOf: { title?: string; description?: string }[] } } } };
  const forms = schema.properties.tasks.items.anyOf;
  t.same(forms.map((f) => f.title), [...kindNames().map((k) => `${k} task`), 'parallel group']);
  t.equal(forms[0]?.description, kindNamed('exec')?.summary);
});
