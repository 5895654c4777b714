// The taints a NodeConfig registers, and what the kubelet would drop of them (src/writers/nodeconfig-taints.ts),
// and what Karpenter's merge breaks (src/writers/karpenter-userdata.ts): plain objects. The bundle's view of the
// same is test/writers/render-userdata-karpenter.test.ts; Go's reader, test/writers/render-userdata-karpenter-merge.test.ts.
import t from 'tap';
import { EC2_USER_DATA_LIMIT, KARPENTER_NODECONFIG_BYTES, karpenterRewriteProblems, karpenterSizeWarning, karpenterTaintFindings } from '../../src/writers/karpenter-userdata.js';
import { droppedTaintWarnings, registeredTaints } from '../../src/writers/nodeconfig-taints.js';

const nc = (kubelet: unknown) => ({ apiVersion: 'node.eks.aws/v1alpha1', kind: 'NodeConfig', spec: { kubelet } });

t.test('registeredTaints: every spelling of the flag the kubelet takes, and the config list', async (t) => {
  t.same(registeredTaints(nc({ flags: ['--register-with-taints=a=b:NoSchedule,c:NoExecute'] })), { flags: [{ index: 0, taints: ['a=b:NoSchedule', 'c:NoExecute'] }] });
  t.same(registeredTaints(nc({ flags: ['--v=2', '--register_with_taints="a=b:NoSchedule"'] })).flags, [{ index: 1, taints: ['a=b:NoSchedule'] }], 'the kubelet maps "_" to "-"; quotes as Karpenter writes them');
  t.same(registeredTaints(nc({ flags: ['--register-with-taints', 'x:NoSchedule'] })).flags, [{ index: 0, taints: ['x:NoSchedule'] }], 'the value as the next item');
  t.same(registeredTaints(nc({ flags: ['--register-with-taints x:NoSchedule'] })).flags, [{ index: 0, taints: ['x:NoSchedule'] }], 'one item with a space: nodeadm joins the flags with spaces');
  t.same(registeredTaints(nc({ flags: ['--register-with-taints='] })).flags, [{ index: 0, taints: [] }], 'an empty value clears the list');
  t.same(registeredTaints(nc({ flags: ['--register-with-taintsx=a:NoSchedule', 42, '--node-labels=a=b'] })).flags, [], 'other flags and non-strings are not it');
  t.same(registeredTaints(nc({ config: { registerWithTaints: [{ key: 'a', value: 'b', effect: 'NoSchedule' }, { key: 'c', effect: 'NoExecute' }, { key: 'd', value: '', effect: 'NoSchedule' }] } })), {
    flags: [],
    config: ['a=b:NoSchedule', 'c:NoExecute', 'd:NoSchedule'],
  });
  t.same(registeredTaints({ apiVersion: 'node.eks.aws/v1alpha1', kind: 'NodeConfig' }), { flags: [] }, 'no spec at all');
  t.same(registeredTaints(nc('not a mapping')), { flags: [] });
});

t.test('droppedTaintWarnings: only what the kubelet really drops', async (t) => {
  t.same(droppedTaintWarnings(registeredTaints(nc({ config: { registerWithTaints: [{ key: 'a', effect: 'NoSchedule' }] } }))), [], 'no flag: the config list stands');
  t.same(droppedTaintWarnings(registeredTaints(nc({ flags: ['--register-with-taints=a:NoSchedule', '--register-with-taints=a:NoSchedule'] }))), [], 'the same taints twice: nothing dropped');
  t.same(droppedTaintWarnings(registeredTaints(nc({ flags: ['--register-with-taints=a:NoSchedule'], config: { registerWithTaints: [{ key: 'a', effect: 'NoSchedule' }] } }))), [], 'the flag repeats the config');
  const [w] = droppedTaintWarnings(registeredTaints(nc({ flags: ['--register-with-taints=a:NoSchedule,b:NoSchedule', '--register-with-taints=b:NoSchedule'] })));
  t.equal(w, 'spec.kubelet.flags has 2 --register-with-taints flags (spec.kubelet.flags[0], spec.kubelet.flags[1]); the kubelet keeps only the last, so a:NoSchedule is dropped; give every taint in one flag, comma-separated');
});

t.test("karpenterRewriteProblems: Go's boundary rule with Karpenter's boundary, and lone CRs", async (t) => {
  const lines = (text: string) => karpenterRewriteProblems(Buffer.from(text), 'x').map((p) => [p.line, p.message.slice(0, 20)]);
  t.same(lines('a\n--//\nb\n--//--x\n--// c\n--//\t\n--//x\n --//\n'), [
    [2, 'starts with "--//", '],
    [4, 'starts with "--//", '],
    [5, 'starts with "--//", '],
    [6, 'starts with "--//", '],
  ]);
  t.same(lines('--//'), [[1, 'starts with "--//", ']], 'at the very end, without a line break');
  t.same(lines('--//\r\n'), [[1, 'starts with "--//", ']], 'before a CRLF');
  t.same(lines('a\r\nb\r\n'), [], 'CRLF line ends are no problem');
  t.same(lines('a\rb\r\n'), [[1, 'has a carriage retur']]);
});

t.test('karpenterTaintFindings and karpenterSizeWarning', async (t) => {
  const f = karpenterTaintFindings(registeredTaints(nc({ flags: ['--register-with-taints=a:NoSchedule', '--register-with-taints=b:NoSchedule'], config: { registerWithTaints: [] } })), 'S');
  t.same(f.problems.map((p) => p.message.slice(0, 24)), ['spec.kubelet.flags[0] is', 'spec.kubelet.flags[1] is'], 'every flag is named');
  t.equal(f.warnings.length, 1);
  t.same(karpenterTaintFindings(registeredTaints(nc({})), 'S'), { problems: [], warnings: [] });
  t.equal(karpenterSizeWarning(EC2_USER_DATA_LIMIT - KARPENTER_NODECONFIG_BYTES), undefined, 'exactly room enough');
  t.match(karpenterSizeWarning(EC2_USER_DATA_LIMIT - KARPENTER_NODECONFIG_BYTES + 1)!, new RegExp(`leaves only ${KARPENTER_NODECONFIG_BYTES - 1} bytes`));
  t.match(karpenterSizeWarning(EC2_USER_DATA_LIMIT + 5)!, /^16389 bytes leaves no room for the NodeConfig Karpenter appends/);
});
