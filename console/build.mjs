// Bundles src/ into an output folder (default dist/): index.html, assets/app.js, assets/app.css and
// assets/licenses.txt. The output is a function of the sources and the locked packages only.
import { readFileSync, rmSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.jsx' },
  outdir: join(out, 'assets'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  charset: 'utf8',
  sourcemap: false,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});

copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));

// The notices of the bundled packages (their licenses ask for them to travel with the code).
const notices = ['preact', 'uplot'].map((name) => {
  const dir = join(here, 'node_modules', name);
  const { version, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const text = readFileSync(join(dir, 'LICENSE'), 'utf8').trim();
  return `${name} ${version} (${license})\n\n${text}\n`;
});
writeFileSync(
  join(out, 'assets', 'licenses.txt'),
  `The console bundles these packages:\n\n${notices.join('\n----------------------------------------\n\n')}`,
);
