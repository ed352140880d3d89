#!/usr/bin/env node
// Keeps `npm ci` working when the registry this machine reaches does not serve other platforms' optional binaries
// (e.g. @swc/core-darwin-arm64): npm then leaves them out of package-lock.json and `npm ci` refuses the lock as
// "Missing: … from lock file". This adds an entry for each missing optional dependency, with its version and the
// os/cpu read from its name, so that npm skips it on other platforms and fetches it by version where it applies.
// Run after `npm install` changes the lock: `npm run lock:stubs`.
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const file = join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const OSES = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openharmony'];
const CPUS = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'loong64', 'riscv64'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  return { os: OSES.find((o) => parts.includes(o)), cpu: CPUS.find((c) => parts.includes(c)) };
}

const packages = lock.packages;
let added = 0;
for (const meta of Object.values(packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (packages[key]) continue;
    const { os, cpu } = platformOf(dep);
    packages[key] = {
      version,
      ...(meta.dev ? { dev: true } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
      ...(cpu ? { cpu: [cpu] } : {}),
    };
    added++;
  }
}
const [root, ...rest] = Object.keys(packages);
lock.packages = Object.fromEntries([root, ...rest.sort()].map((k) => [k, packages[k]]));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`lockfile: ${added} optional platform entr${added === 1 ? 'y' : 'ies'} added\n`);
