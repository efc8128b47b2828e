// Builds the package with esbuild. Usage:
//   node build.mjs          dist/index.js (ESM), dist/index.min.js, dist/*.d.ts
//   node build.mjs demo     ../../cmd/halley/demo/{client,app}.js: the client and the demo page's script (checked in)
//   node build.mjs admin    ../../cmd/halley/admin/app.js: the admin dashboard's script, the client bundled in (checked in)
//   node build.mjs test     build/test/*.mjs, the unit tests, for node --test
//   node build.mjs docs     build/docs.ts, the examples of docs/client-js.md, for tsc
//   node build.mjs size     the minified and gzipped size of the client
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const mode = process.argv[2] ?? 'lib';
// Private members (a leading underscore) get short names in minified output.
const min = { minify: true, mangleProps: /^_/, legalComments: 'none' };
const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'warning' };

if (mode === 'lib') {
  rmSync('dist', { recursive: true, force: true });
  await build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js' });
  await build({ ...common, ...min, entryPoints: ['src/index.ts'], outfile: 'dist/index.min.js' });
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
} else if (mode === 'demo') {
  // The client, for the demo and for any page (import it from /demo/client.js)…
  await build({ ...common, ...min, entryPoints: ['src/index.ts'], outfile: '../../cmd/halley/demo/client.js' });
  // …and the demo's own code, which imports it.
  const external = { name: 'client', setup: (b) => b.onResolve({ filter: /client\/src\/index\.js$/ }, () => ({ path: './client.js', external: true })) };
  await build({ ...common, ...min, entryPoints: ['../demo/main.ts'], outfile: '../../cmd/halley/demo/app.js', plugins: [external] });
} else if (mode === 'admin') {
  // The admin page works with the demo off: its script carries the client.
  await build({ ...common, ...min, entryPoints: ['../admin/main.ts'], outfile: '../../cmd/halley/admin/app.js' });
} else if (mode === 'test') {
  rmSync('build', { recursive: true, force: true });
  const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => 'test/' + f);
  await build({ ...common, platform: 'node', entryPoints: tests, outdir: 'build/test', outExtension: { '.js': '.mjs' } });
} else if (mode === 'docs') {
  // The TypeScript examples of docs/client-js.md, each in a block of its
  // own, for tsc to check them against the API (npm run check).
  const md = readFileSync('../../docs/client-js.md', 'utf8');
  const blocks = [...md.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1].replace(/^import .*$/gm, ''));
  mkdirSync('build', { recursive: true });
  writeFileSync('build/docs.ts', `import { Client } from '../src/index.js';\nexport async function docs() {\n  const client = new Client();\n${blocks.map((b) => `  {\n${b}  }\n`).join('')}}\n`);
} else if (mode === 'size') {
  const r = await build({ ...common, ...min, entryPoints: ['src/index.ts'], write: false });
  const js = r.outputFiles[0].contents;
  console.log(`@halley/client: ${js.length} bytes minified, ${gzipSync(js, { level: 9 }).length} bytes gzipped`);
} else {
  console.error(`build.mjs: unknown mode ${mode}`);
  process.exit(2);
}
