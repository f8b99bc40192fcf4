#!/usr/bin/env node
// dist/berth.js, the berth CLI's entry (scripts/build.mjs writes it from this file): runs the
// CommonJS bundle dist/berth-cli.js through V8's code cache, dist/berth-cli.cache, so that a
// command starts without parsing and compiling the bundle (docs/performance.md, CLI start).
// The cache starts with the bundle's sha256, which the build writes below: a cache made from
// another bundle is never used. V8 refuses one from another node or other V8 flags; the bundle
// then runs compiled from source, and a fresh cache is written when the command ends (atomically:
// temp file, fsync, rename; nothing is written where the CLI may not write).
'use strict';
const { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } = require('node:fs');
const { Script } = require('node:vm');

const BUNDLE_SHA256 = '@BUNDLE_SHA256@';
const bundle = `${__dirname}/berth-cli.js`;
const cacheFile = `${__dirname}/berth-cli.cache`;

let cachedData;
try {
  const cache = readFileSync(cacheFile);
  if (cache.toString('latin1', 0, BUNDLE_SHA256.length) === BUNDLE_SHA256) cachedData = cache.subarray(BUNDLE_SHA256.length);
} catch {
  // No cache yet: compiled from source, and the cache is written at exit.
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'utf8')}\n})`, {
  filename: bundle,
  cachedData,
});
if (cachedData === undefined || script.cachedDataRejected) process.once('exit', writeCache);
script.runInThisContext()(exports, require, module, bundle, __dirname);

/** At exit the cache holds every function this command compiled, not only the top level. */
function writeCache() {
  const temp = `${cacheFile}.${process.pid}.tmp`;
  let fd;
  try {
    const data = script.createCachedData();
    fd = openSync(temp, 'wx', 0o644);
    writeSync(fd, BUNDLE_SHA256, null, 'latin1');
    writeSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, cacheFile);
  } catch {
    // A read-only install, or a full disk: the next command compiles from source again.
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // Never created.
    }
  }
}
