// Builds the panel into dist/: one JS bundle (app.js), one stylesheet (app.css), index.html
// and favicon.svg. Deterministic (no hashes, timestamps or source maps) so the embedded
// assets only change when the sources do. Usage: node build.mjs [--dev] (dev: unminified).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
const dev = process.argv.includes('--dev');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  minify: !dev,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  target: 'es2020',
  absWorkingDir: root,
};

await build({
  ...common,
  entryPoints: [join(root, 'src/main.js')],
  outfile: join(out, 'app.js'),
  format: 'iife',
  platform: 'browser',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
});
await build({ ...common, entryPoints: [join(root, 'src/styles.css')], outfile: join(out, 'app.css') });
copyFileSync(join(root, 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'favicon.svg'), join(out, 'favicon.svg'));
