// Prepended to dist/postjoin.sea.cjs by esbuild.config.mjs (the `require` below is that script's own).
//
// The single executables start from a V8 startup snapshot (build-sea.mjs). While it is built, Node lets the
// script require only the built-in modules it can serialise: http, https, tty, child_process, worker_threads
// and the others in UNSUPPORTED hold native objects that no snapshot can keep, and loading one fails the
// build ("global handle not serialized"). The modules postjoin initialises at build time import some of them
// (the IMDS client, the wait task, pino's transports) but call them only at run time. So while the snapshot
// is built, such a require returns a stand-in that loads the real module on first use, after start-up.
// At run time every built-in comes from process.getBuiltinModule, as Node's snapshot require would warn
// ("not yet supported in user snapshots") for the same modules.
require = ((real, UNSUPPORTED, NAMES) => {
  const building = () => process.getBuiltinModule('node:v8').startupSnapshot.isBuildingSnapshot();
  const lazy = (name) => {
    let mod;
    const load = () => (mod ??= process.getBuiltinModule(`node:${name}`));
    // esbuild's interop (__toESM) lists a module's keys when it is imported whole; at build time they are
    // the names this module had on the Node that bundled it, each one a getter that loads on first use.
    const unloadedWhileBuilding = () => mod === undefined && building();
    return new Proxy(
      {},
      {
        get: (_, key) => (key === '__esModule' ? undefined : load()[key]),
        has: (_, key) => key in load(),
        ownKeys: () => (unloadedWhileBuilding() ? [...(NAMES[name] ?? [])] : Reflect.ownKeys(load())),
        getOwnPropertyDescriptor: (_, key) => {
          if (unloadedWhileBuilding()) return NAMES[name]?.includes(key) ? { value: undefined, writable: true, enumerable: true, configurable: true } : undefined;
          const d = Reflect.getOwnPropertyDescriptor(load(), key);
          return d && { ...d, configurable: true };
        },
      },
    );
  };
  const stand = new Map();
  return (id) => {
    const name = id.replace(/^node:/, '');
    if (!building()) return process.getBuiltinModule(id) ?? real(id);
    if (!UNSUPPORTED.has(name)) return real(id);
    if (!stand.has(name)) stand.set(name, lazy(name));
    return stand.get(name);
  };
})(require, new Set(UNSUPPORTED_LIST), NAMES_BY_MODULE);
