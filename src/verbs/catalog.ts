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
    summary: 'check task files or whole user-data files offline (for CI before a launch template ships)',
    usage: 'postjoin validate [--output text|json] [--config FILE] FILE...',
    details:
      'A FILE is a task file (YAML/JSON) or a whole user data (MIME multipart, optionally gzip/base64), told apart by content.\n' +
      'Lists every error found. With --config, that config\'s policy for the file and userdata sources is applied too.',
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
    summary: 'write MIME multipart user data holding a NodeConfig part and a postjoin task part',
    usage: 'postjoin render-userdata --nodeconfig FILE --tasks FILE [--gzip] > userdata',
    details:
      'The NodeConfig part is byte-identical to FILE; the task file is validated first. --gzip compresses the whole\n' +
      'user data (nodeadm and postjoin detect it); base64 it for a launch template, e.g. base64 -w0.',
    options: { nodeconfig: { type: 'string' }, tasks: { type: 'string' }, gzip: { type: 'boolean' } },
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
