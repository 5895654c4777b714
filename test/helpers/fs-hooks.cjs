// A preload (`node --require`, given through NODE_OPTIONS) that widens a race window in the real bundle: it wraps
// chosen node:fs/promises calls and, when one matches, acts before or after it (touch a file, signal this process,
// wait for a file, sleep). The bundle calls fs through the module object, so wrapping the object's methods reaches
// it. Configured by POSTJOIN_TEST_FS_HOOKS, a JSON list of hooks (see fsHooks() in fs-hooks.ts); each fires once.
'use strict';
const fs = require('node:fs');
const fsp = require('node:fs/promises');

const hooks = JSON.parse(process.env.POSTJOIN_TEST_FS_HOOKS || '[]');
// The hooks are for this process only, not for the tasks it runs.
delete process.env.POSTJOIN_TEST_FS_HOOKS;
process.env.NODE_OPTIONS = (process.env.NODE_OPTIONS || '').replace(/--require[= ]\S*fs-hooks\.cjs/g, '').trim();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function act(a) {
  if (a.touch) fs.writeFileSync(a.touch, String(process.pid));
  if (a.signal) process.kill(process.pid, a.signal);
  if (a.waitFor) while (!fs.existsSync(a.waitFor)) await sleep(10);
  if (a.delayMs) await sleep(a.delayMs);
}

function matches(h, args) {
  // rename(from, to) is matched on its destination, and `content` on what is being renamed into place.
  const path = String(h.fn === 'rename' ? args[1] : args[0]);
  if (!new RegExp(h.path).test(path)) return false;
  if (h.content) {
    const file = String(args[0]);
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {}
    if (!new RegExp(h.content).test(text)) return false;
  }
  return true;
}

for (const fn of new Set(hooks.map((h) => h.fn))) {
  const original = fsp[fn];
  fsp[fn] = async function hooked(...args) {
    const h = hooks.find((x) => x.fn === fn && !x.fired && matches(x, args));
    if (!h) return original.apply(this, args);
    h.fired = true;
    if (h.when !== 'after') await act(h);
    try {
      return await original.apply(this, args);
    } finally {
      // Also after a call that failed: reading a state file that does not exist yet is still "the read".
      if (h.when === 'after') await act(h);
    }
  };
}
