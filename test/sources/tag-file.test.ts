// Issue 20, item 4: instance tags written down, told apart from a task file by content, with EC2's own rules.
import t from 'tap';
import { formatProblem } from '../../src/base/errors.js';
import { readTagFile } from '../../src/sources/tag-file.js';

const L = 'tags:/t/tags.json';

t.test('the three forms, and what is not a tags file', async (t) => {
  const list = readTagFile('[\n  {"Key": "postjoin:10-a", "Value": "pull x/y:1"},\n  {"Key": "Name", "Value": "node"}\n]\n', L);
  t.equal(list?.form, 'list');
  t.same(list?.entries, [
    { key: 'postjoin:10-a', value: 'pull x/y:1', line: 2 },
    { key: 'Name', value: 'node', line: 3 },
  ]);
  t.equal(readTagFile('{"Tags": [{"Key": "postjoin:10-a", "Value": "pull x/y:1", "ResourceId": "i-1"}]}', L)?.form, 'list', 'as aws ec2 describe-tags prints it');
  const mapping = readTagFile('{"postjoin:10-a": "pull x/y:1", "Name": "node"}', L);
  t.equal(mapping?.form, 'mapping');
  t.same(mapping?.entries.map((e) => e.key), ['postjoin:10-a', 'Name']);
  t.equal(readTagFile('postjoin:10-a: pull x/y:1\npostjoin:enabled: true\n', L)?.form, 'mapping', 'YAML too');
  const lines = readTagFile('# from postjoin tags\npostjoin:10-a=pull x/y:1\n\npostjoin:20-b=wait url http://127.0.0.1/?a=b\n', L);
  t.equal(lines?.form, 'lines');
  t.same(lines?.entries, [
    { key: 'postjoin:10-a', value: 'pull x/y:1', line: 2 },
    { key: 'postjoin:20-b', value: 'wait url http://127.0.0.1/?a=b', line: 4 },
  ]);
  t.equal(readTagFile('apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks: []\n', L), undefined, 'a task file');
  t.equal(readTagFile('apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n  - name: a\n    exec: { command: /bin/echo, args: [a=b] }\n', L), undefined);
  t.equal(readTagFile('{"Name": "x"}', L), undefined, 'a mapping with no postjoin key is not taken for tags');
  t.equal(readTagFile('a: [\n', L), undefined, 'not YAML: left to the task-file reading, which says why');
  t.equal(readTagFile('Name=x\n', L), undefined);
});

t.test('EC2\'s rules: key and value length, duplicates, 50 tags; every problem, each at its line', async (t) => {
  const long = 'k'.repeat(129);
  const file = readTagFile(
    JSON.stringify([
      { Key: 'postjoin:10-a', Value: `pull ${'x'.repeat(260)}` },
      { Key: long, Value: 'v' },
      { Key: 'postjoin:10-a', Value: 'pull x/y:1' },
      { Key: '', Value: 'v' },
      { Key: 'n', Value: 7 },
      { Key: 'o', Value: { a: 1 } },
      'not a tag',
    ], null, 1),
    L,
  );
  t.same(file?.problems.map(formatProblem), [
    `${L}: [6], line 28: expected a tag: {"Key": "...", "Value": "..."}`,
    `${L}#postjoin:10-a: line 2: the value is 265 characters; EC2 allows at most 256`,
    `${L}: [1], line 6: the key is 129 characters; EC2 allows at most 128`,
    `${L}#postjoin:10-a: line 10: the key is given twice (first on line 2); a tag key has one value`,
    `${L}: [3], line 14: the key is empty; EC2 refuses such a tag`,
    `${L}#o: line 22: a tag value is a string`,
  ]);
  t.same(file?.entries.map((e) => [e.key, e.value]), [['postjoin:10-a', `pull ${'x'.repeat(260)}`], [long, 'v'], ['', 'v'], ['n', '7']]);
  const many = readTagFile(JSON.stringify([...Array.from({ length: 51 }, (_, i) => ({ Key: `t${i}`, Value: '' })), { Key: 'aws:autoscaling:groupName', Value: 'g' }, { Key: 'postjoin:10-a', Value: 'pull x/y:1' }]), L);
  t.same(many?.problems.map(formatProblem), [`${L}: 52 tags; EC2 allows 50 per instance (aws:* ones do not count)`]);
});

t.test('a key instance metadata cannot show is noted, not refused; postjoin:enabled is read as the node reads it', async (t) => {
  const file = readTagFile('{"kubernetes.io/cluster/demo": "owned", "postjoin:enabled": "False", "postjoin:10-a": "pull x/y:1"}', L);
  t.same(file?.problems, []);
  t.same(file?.warnings.map(formatProblem), [
    `${L}#kubernetes.io/cluster/demo: line 1: instance metadata cannot show this key (it allows only letters, digits and + = . _ : @ -): with InstanceMetadataTags enabled EC2 refuses to launch; with it off (as Karpenter launches), the node reads its tags with DescribeInstances`,
    `${L}#postjoin:enabled: line 1: the node reads no postjoin tag while this is false; the others are checked all the same`,
  ]);
  t.same(readTagFile('postjoin:enabled=maybe\npostjoin:10-a=pull x/y:1\n', L)?.warnings.map(formatProblem), [
    `${L}#postjoin:enabled: line 1: is neither true nor false; the node keeps the tags source on`,
  ]);
  t.same(readTagFile('postjoin:enabled=true\npostjoin:10-a=pull x/y:1\n', L)?.warnings, []);
});
