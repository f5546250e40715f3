// The browser edge page's script: src/runtime/browser/page.ts and the shared code it imports (wire format, protocol
// encoders, preprocessing) bundled by esbuild into dist/browser/edge.js. Node built-ins are not in browsers: the few
// modules on the page's path that import one (for functions the page never calls) get a stand-in whose every
// member throws, naming the module. onnxruntime-web is not bundled: the page loads its own script (ort/).
import { build } from 'esbuild';

const nodeBuiltins = {
  name: 'node-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => ({ path: a.path, namespace: 'node-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (a) => ({
      loader: 'js',
      contents: `module.exports = new Proxy({}, { get: (_, name) => name === '__esModule' ? false : () => { throw new Error(${JSON.stringify(a.path)} + '.' + String(name) + ' is not available in the browser edge'); } });`,
    }));
  },
};

await build({
  entryPoints: ['src/runtime/browser/page.ts'],
  outfile: 'dist/browser/edge.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  external: ['onnxruntime-web'],
  plugins: [nodeBuiltins],
  logLevel: 'warning',
});
