#!/usr/bin/env node
'use strict';
// The `kagzi` command of the published package (`npx kagzi --help`): runs the compiled CLI.
const { main } = require('../dist/libs/kagzi/src/cli/main.js');

// Exit once stdout and stderr are flushed: a pool or timer left open must not keep the command alive.
function exit(code) {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv).then(exit, (err) => {
  process.stderr.write(`kagzi: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
  exit(1);
});
