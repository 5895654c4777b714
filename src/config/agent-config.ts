import { z } from 'zod';
import { absolutePath, duration, nonEmptyString, stringList } from '../base/fields.js';
import { unitName } from '../base/unit-name.js';
import { kindNames, taskKinds } from '../kinds/registry.js';
import type { Policy } from '../plan/policy.js';
import { taskSources, type SourceName } from '../sources/registry.js';
import { conditionType, nodeName, ownLabelKey } from './kube-names.js';

/** The config's source names, from the sources registry: nothing here is written out per source or per kind. */
export const SOURCE_NAMES = taskSources.map((s) => s.name) as [SourceName, ...SourceName[]];

/**
 * `null` switches a probe off (design §4); an absent key takes the default. zod's `.default()` only fires on
 * undefined, which is exactly that distinction.
 */
const probeOff = <T extends z.ZodType>(schema: T) => schema.nullable();

const sourcePolicy = (allow: string[]) =>
  z.strictObject({ allow: stringList('task kinds').default(allow) }).prefault({});

/** `policy.<source>`, one key per source, each defaulting to what the source allows of the registered kinds. */
const sourcePolicies = Object.fromEntries(taskSources.map((s) => [s.name, sourcePolicy(s.defaultAllow(taskKinds))])) as Record<
  SourceName,
  ReturnType<typeof sourcePolicy>
>;
const RULE_KEYS = ['registries', 'units', 'paths'];
for (const name of SOURCE_NAMES) if (RULE_KEYS.includes(name)) throw new Error(`a source may not be named ${name}: policy.${name} is a rule`);

export const agentConfigSchema = z.strictObject({
  apiVersion: z.literal('postjoin/v1alpha1').optional(),
  kind: z.literal('AgentConfig').optional(),
  sources: z
    .array(z.enum(SOURCE_NAMES), { error: 'expected a list of sources' })
    .refine((s) => new Set(s).size === s.length, { message: 'a source is listed twice' })
    .default(SOURCE_NAMES),
  tasksDir: absolutePath('tasksDir').default('/etc/postjoin/tasks.d'),
  imds: z
    .strictObject({
      enabled: z.boolean().default(true),
      budget: duration('total retry budget for one IMDS read').prefault('2m'),
    })
    .prefault({}),
  containerd: z
    .strictObject({
      socket: absolutePath('containerd.socket').default('/run/containerd/containerd.sock'),
      namespace: nonEmptyString('containerd.namespace').default('k8s.io'),
    })
    .prefault({}),
  readiness: z
    .strictObject({
      timeout: duration('how long to wait for readiness before exit 3').prefault('10m'),
      // Checked as unit tasks' names are: `kubelet` would otherwise wait, as not-found, until exit 3.
      units: probeOff(z.array(unitName('a readiness unit'), { error: 'expected a list of unit names' })).default(['containerd.service', 'kubelet.service']),
      kubeletHealthz: probeOff(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL or null' })).default(
        'http://127.0.0.1:10248/healthz',
      ),
      containerd: probeOff(z.boolean()).default(true),
    })
    .prefault({}),
  policy: z
    .strictObject({
      ...sourcePolicies,
      registries: stringList('registry host globs').default([]),
      units: stringList('unit name globs').default([]),
      /** Not in the design's example: globs a `file` task's path must match, after symlinks in it are resolved. */
      paths: stringList('path globs').default([]),
    })
    .prefault({}),
  kubernetes: z
    .strictObject({
      enabled: z.union([z.literal('auto'), z.boolean()], { error: 'expected auto, true or false' }).default('auto'),
      kubeconfig: absolutePath('kubernetes.kubeconfig').default('/var/lib/kubelet/kubeconfig'),
      nodeName: nodeName('kubernetes.nodeName').nullable().default(null),
      condition: conditionType('kubernetes.condition').default('postjoin.io/Ready'),
      label: ownLabelKey('kubernetes.label').nullable().default('postjoin.io/result'),
      events: z.boolean({ error: 'expected true or false' }).default(true),
      timeout: duration('bound on all reporting to the Node in one run')
        .refine((ms) => ms > 0, { message: 'must be longer than 0s; to switch reporting off, set kubernetes.enabled: false' })
        .prefault('30s'),
    })
    .prefault({}),
  /** Not in the design's example: the whole run's deadline, so the unit's TimeoutStartSec can sit above it. */
  runTimeout: duration('deadline for the whole run, readiness included').prefault('55m'),
});

type Parsed = z.output<typeof agentConfigSchema>;
/** `policy` as parsed: per source its allow-list, and the kinds' rules; what plan/policy.ts applies. */
type ParsedPolicy = Parsed['policy'] & Policy;

/** The config as the agent uses it: probes that are off are simply absent. */
export interface AgentConfig {
  path: string;
  sources: SourceName[];
  tasksDir: string;
  imds: { enabled: boolean; budgetMs: number };
  containerd: { socket: string; namespace: string };
  readiness: { timeoutMs: number; units: string[]; kubeletHealthz: string | null; containerd: boolean };
  policy: ParsedPolicy;
  kubernetes: KubernetesConfig;
  runTimeoutMs: number;
}

/** The `kubernetes` block (design §4): reporting to the node's own Node object. */
export interface KubernetesConfig {
  /** auto: on when the kubeconfig file exists when a report is made (cluster-report.ts looks each time). */
  enabled: 'auto' | boolean;
  kubeconfig: string;
  /** null: detect (--hostname-override in /etc/eks/kubelet/environment, else the host name). */
  nodeName: string | null;
  condition: string;
  label: string | null;
  events: boolean;
  timeoutMs: number;
}

export function toAgentConfig(p: Parsed, path: string): AgentConfig {
  return {
    path,
    sources: p.sources,
    tasksDir: p.tasksDir,
    imds: { enabled: p.imds.enabled, budgetMs: p.imds.budget },
    containerd: p.containerd,
    readiness: {
      timeoutMs: p.readiness.timeout,
      units: p.readiness.units ?? [],
      kubeletHealthz: p.readiness.kubeletHealthz,
      containerd: p.readiness.containerd ?? false,
    },
    policy: p.policy,
    kubernetes: {
      enabled: p.kubernetes.enabled,
      kubeconfig: p.kubernetes.kubeconfig,
      nodeName: p.kubernetes.nodeName,
      condition: p.kubernetes.condition,
      label: p.kubernetes.label,
      events: p.kubernetes.events,
      timeoutMs: p.kubernetes.timeout,
    },
    runTimeoutMs: p.runTimeout,
  };
}

/** The config a node without a config file runs with. */
export function defaultConfig(path = '(built-in)'): AgentConfig {
  return toAgentConfig(agentConfigSchema.parse({}), path);
}

/** Offline the node's policy is unknown: every kind is allowed from every source (the kinds' rules stay the defaults). */
export function everyKindPolicy(): ParsedPolicy {
  const all = kindNames();
  return { ...defaultConfig().policy, ...Object.fromEntries(SOURCE_NAMES.map((s) => [s, { allow: all }])) } as ParsedPolicy;
}
