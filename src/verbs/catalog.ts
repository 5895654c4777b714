import type { Verb } from './verb.js';

/** Every verb, one entry each; `cli.ts` only parses and dispatches. */
export const verbs: Verb[] = [
  {
    name: 'run',
    summary: 'read sources, validate the plan, wait for readiness, run the tasks, record state (what the unit runs)',
    usage: 'postjoin run [--config FILE] [--state-dir DIR] [--log-level LEVEL]',
    details: 'Logs go to stdout as pino JSON; under systemd each line carries a <N> syslog priority for journald.',
    options: {},
    load: () => import('./run.js'),
  },
  {
    name: 'plan',
    summary: 'everything run does up to validation; print the ordered plan with each task\'s source',
    usage: 'postjoin plan [--config FILE] [--output text|json] [--show-secrets]',
    details: 'env values and file contents are redacted unless --show-secrets is given.',
    options: { 'show-secrets': { type: 'boolean' } },
    load: () => import('./plan.js'),
  },
  {
    name: 'validate',
    summary: 'check task files, whole user-data files or instance tags offline (for CI before a launch template ships)',
    usage: 'postjoin validate [--output text|json] [--config FILE] FILE...',
    details:
      'A FILE is told apart by content: a task file (YAML/JSON); a whole user data (MIME multipart, optionally\n' +
      'gzip/base64); or instance tags: the [{"Key","Value"}] list `tags --output json` prints, a {"key": "value"}\n' +
      'mapping, or the KEY=VALUE lines `tags` prints. Tags are checked as a node reads them (the tag grammar, task\n' +
      'names, postjoin:enabled) and against EC2\'s rules (key 128, value 256 characters, 50 tags); other keys are ignored.\n' +
      'Lists every problem, each with its source, path and line, and exits 2 if there is one. Warnings (an exec\n' +
      'argument holding $VAR, which no shell expands) are listed too and never change the exit code.\n' +
      'Policy: every kind from task files and user data, the default policy for tags (pull, unit, wait; no unit\n' +
      'without policy.units); with --config, that config\'s policy for every source.',
    options: {},
    positionals: true,
    load: () => import('./validate.js'),
  },
  {
    name: 'status',
    summary: 'show the last run from the state file',
    usage: 'postjoin status [--state-dir DIR] [--output text|json]',
    details: 'Exits 0 when the last run succeeded (or none is recorded), 1 otherwise.',
    options: {},
    load: () => import('./status.js'),
  },
  {
    name: 'report',
    summary: "send the last run's outcome to the node's Node object when its own report could not (runs no task)",
    usage: 'postjoin report [--retry-for DURATION [--retry-delay DURATION]] [--config FILE] [--state-dir DIR] [--output text|json]',
    details:
      'For a run whose final report the API server never got: state.json keeps it pending (postjoin status shows it), and\n' +
      'this sends what is missing (condition, label, event) with the current config, within kubernetes.timeout.\n' +
      'Exits 0 when the Node has it or nothing is pending, 1 when it still could not be made (the try is recorded).\n' +
      '--retry-for: try again, waiting --retry-delay (default 5s) doubling up to 1m, until made or the time is up\n' +
      '(postjoin-report.service runs it so, after postjoin.service, for 1h). Logs go to stderr as pino JSON.',
    options: { 'retry-for': { type: 'string' }, 'retry-delay': { type: 'string' } },
    exitCodes: `Exit codes:
  0  the Node has the last run's outcome (sent now or before), or there is nothing to send
  1  it still could not be sent (the try is recorded in state.json), a run held the lock, or the state file is unreadable
  2  invalid input: usage or config`,
    load: () => import('./report.js'),
  },
  {
    name: 'render-userdata',
    summary: 'write MIME multipart user data holding a postjoin task part, after your NodeConfig part if given',
    usage: 'postjoin render-userdata --tasks FILE [--nodeconfig FILE] [--for karpenter|launch-template] [--gzip] > userdata',
    details:
      '--for launch-template (the default with --nodeconfig): for nodeadm in a launch template; the NodeConfig part is\n' +
      'byte-identical to FILE. --gzip compresses the whole user data; base64 it for a launch template, e.g. base64 -w0.\n' +
      '--for karpenter (the default without --nodeconfig): for an EC2NodeClass userData, which Karpenter merges with its\n' +
      'own NodeConfig; refuses --gzip, --register-with-taints in a NodeConfig, and lines Karpenter\'s rewrite would break.\n' +
      'The task file is validated first.',
    options: { nodeconfig: { type: 'string' }, tasks: { type: 'string' }, for: { type: 'string' }, gzip: { type: 'boolean' } },
    load: () => import('./render-userdata.js'),
  },
  {
    name: 'tags',
    summary: 'compile a task file into postjoin:* EC2 tags, checking the tag limits',
    usage: 'postjoin tags --tasks FILE [--output text|json] [--other-tags N]',
    details:
      'text prints KEY=VALUE lines; json prints [{"Key","Value"}] for a launch template. Exits 2, listing them, when a task\n' +
      'cannot be a tag (file and parallel tasks, non-default common fields, values over 256 characters).\n' +
      '--other-tags: how many tags the instance has besides these, to check the 50-tag limit.',
    options: { tasks: { type: 'string' }, 'other-tags': { type: 'string' } },
    load: () => import('./tags.js'),
  },
];
