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
    summary: 'check task files offline (for CI before a launch template ships)',
    usage: 'postjoin validate [--output text|json] [--config FILE] FILE...',
    details: 'Lists every error found. With --config, that config\'s policy for the file source is applied too.',
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
];
