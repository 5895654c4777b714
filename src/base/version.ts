declare const __POSTJOIN_VERSION__: string | undefined;

/** Injected by esbuild from package.json; `dev` when running from source (tests). */
export const VERSION: string = typeof __POSTJOIN_VERSION__ === 'string' ? __POSTJOIN_VERSION__ : 'dev';
