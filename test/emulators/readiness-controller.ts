// A simulated node-readiness-controller for `npm start`: what its NodeReadinessRule with enforcementMode
// bootstrap-only does to one Node (kubernetes-sigs/node-readiness-controller v0.5.0, internal/controller): while the
// rule's condition is not True the Node keeps the rule's taint; once it is True the controller removes the taint and
// records completion in the annotation readiness.k8s.io/bootstrap-completed-<rule uid>, after which it leaves the
// Node alone (a reboot's False/Running does not taint it again). It is a client of the API stand-in like the real
// controller, over HTTPS with its own (admin) credential; it is not the real controller, and the demo says so.
import https from 'node:https';

export interface SimulatedRule {
  /** The rule's uid, as the API server would have given it. */
  uid: string;
  condition: string;
  taintKey: string;
}

export interface ControllerAction {
  at: string;
  what: string;
}

export const COMPLETED_ANNOTATION = 'readiness.k8s.io/bootstrap-completed-';

export function startSimulatedReadinessController(api: { url: string; caPem: string; adminToken: string }, node: string, rule: SimulatedRule) {
  const actions: ControllerAction[] = [];
  const call = (method: 'GET' | 'PATCH', body?: unknown) =>
    new Promise<any>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = https.request(`${api.url}/api/v1/nodes/${node}`, {
        method,
        ca: api.caPem,
        agent: false,
        headers: {
          Authorization: `Bearer ${api.adminToken}`,
          Accept: 'application/json',
          ...(data ? { 'Content-Type': 'application/merge-patch+json', 'Content-Length': String(data.length) } : {}),
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.end(data);
    });

  /** One reconcile of the rule for the Node: removes the taint once the condition is True, and records completion. */
  async function reconcile(): Promise<void> {
    const n = await call('GET');
    const annotation = `${COMPLETED_ANNOTATION}${rule.uid}`;
    if (n.metadata?.annotations?.[annotation]) return; // bootstrap-only: done once, never again
    const status = (n.status?.conditions ?? []).find((c: { type: string }) => c.type === rule.condition)?.status;
    const taints: { key: string }[] = n.spec?.taints ?? [];
    if (status !== 'True') return;
    // spec.taints has no merge key: a merge patch replaces the list, so it carries every other taint.
    await call('PATCH', {
      metadata: { annotations: { [annotation]: JSON.stringify({ 'rule-name': 'postjoin' }) } },
      spec: { taints: taints.filter((t) => t.key !== rule.taintKey) },
    });
    actions.push({ at: new Date().toISOString(), what: `${rule.condition}=True: removed the taint ${rule.taintKey} and annotated ${annotation}` });
  }

  let busy: Promise<void> = Promise.resolve();
  const once = () => (busy = busy.then(reconcile).catch(() => {})); // the API server may be down in a scene: try again later
  const timer = setInterval(() => void once(), 100);
  return {
    actions,
    /** Reconciles now (the demo asks before it shows the Node, so what it shows does not depend on the poll's timing). */
    reconcile: () => once(),
    stop: () => clearInterval(timer),
  };
}
