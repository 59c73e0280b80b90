#!/usr/bin/env node
'use strict';
// The `kagzi` command. It runs the build of `npm run build:lib` when there is one at least as new as
// the TypeScript sources; in a checkout without one (or with an older one), or when an argument is a
// TypeScript file (`kagzi replay --app src/app.module.ts`), it runs the sources, compiled on the fly by
// @swc-node/register as `npm run demo` does, so it is never behind them.
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const sources = [join(root, 'libs/kagzi/src'), join(root, 'migrations')];
const sourceMain = join(root, 'libs/kagzi/src/cli/main.ts');
const compiledMain = join(root, 'libs/kagzi/dist/libs/kagzi/src/cli/main.js');

/** The newest modification time of the .ts files under `dir` (0 if there are none). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function buildIsCurrent() {
  if (!existsSync(compiledMain)) return false;
  if (!existsSync(sourceMain)) return true; // an installed package: the build is all there is
  const built = statSync(compiledMain).mtimeMs;
  return sources.every((dir) => !existsSync(dir) || newestSource(dir) <= built);
}

/** `kagzi replay --app x.ts`: the app's TypeScript loads this checkout's sources, so the CLI must run them too (one copy of the library). */
function namesTypeScript(argv) {
  return argv.some((arg) => /\.[mc]?ts$/.test(arg));
}

function load() {
  if (buildIsCurrent() && !(existsSync(sourceMain) && namesTypeScript(process.argv.slice(2)))) return require(compiledMain);
  if (existsSync(sourceMain)) {
    require('@swc-node/register');
    return require(sourceMain);
  }
  process.stderr.write('kagzi: no build of the CLI found: run `npm run build:lib`\n');
  return { main: () => Promise.resolve(1) };
}

// Exit once stdout and stderr are flushed: a pool or timer left open must not keep the command alive.
function exit(code) {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

load()
  .main(process.argv)
  .then(exit, (err) => {
    process.stderr.write(`kagzi: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    exit(1);
  });
