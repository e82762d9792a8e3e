#!/usr/bin/env node
// Compile Solidity sources with solc-js: reads solc standard JSON input on stdin, writes the output on stdout.
// Used by cryptopay.sandbox.anvil (which caches the result under .cryptopay/build/).
'use strict';
const solc = require('solc');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  process.stdout.write(solc.compile(input));
});
