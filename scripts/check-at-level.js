#!/usr/bin/env node
'use strict'
// Runs `memseal check` (or any memseal command) as pid 1 of a new private pid namespace whose
// vm.memfd_noexec is set to LEVEL first: how a host or container configured with vm.memfd_noexec = 1 or
// 2 sees the suite, without touching this machine's own value (the sysctl is per pid namespace, and it is
// written only after this process has checked that it is pid 1 of a namespace other than its parent's).
//
//   node scripts/check-at-level.js LEVEL [memseal arguments…]      e.g. 1 check --json
//
// Needs root and util-linux's unshare. The exit status is memseal's.
const { spawnSync } = require('node:child_process')
const { readFileSync, readlinkSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

const CLI = join(__dirname, '..', 'dist', 'cli.js')
const [mode, levelText, ...rest] = process.argv[2] === '--inside' ? process.argv.slice(2) : ['--outside', ...process.argv.slice(2)]
const level = Number(levelText)
if (![0, 1, 2].includes(level)) {
  process.stderr.write('usage: check-at-level.js LEVEL(0|1|2) [memseal arguments…]\n')
  process.exit(2)
}

if (mode === '--outside') {
  const parent = readlinkSync('/proc/self/ns/pid')
  const r = spawnSync('unshare', ['--pid', '--fork', '--kill-child', '--', process.execPath, __filename, '--inside', String(level), ...rest], {
    stdio: 'inherit',
    env: { ...process.env, MEMSEAL_LEVEL_PARENT_NS: parent },
  })
  if (r.error) {
    process.stderr.write(`check-at-level: cannot run unshare: ${r.error.message}\n`)
    process.exit(2)
  }
  process.exit(r.status ?? 1)
}

// Inside: only reads until the namespace is known to be new.
const ns = readlinkSync('/proc/self/ns/pid')
if (process.pid !== 1 || !process.env.MEMSEAL_LEVEL_PARENT_NS || ns === process.env.MEMSEAL_LEVEL_PARENT_NS) {
  process.stderr.write(`check-at-level: refusing to write vm.memfd_noexec: not pid 1 of a new pid namespace (pid ${process.pid}, ${ns})\n`)
  process.exit(2)
}
try {
  writeFileSync('/proc/sys/vm/memfd_noexec', String(level))
} catch (err) {
  process.stderr.write(`check-at-level: cannot set vm.memfd_noexec=${level} in the new namespace: ${err.code}\n`)
  process.exit(2)
}
const now = Number(readFileSync('/proc/sys/vm/memfd_noexec', 'utf8').trim())
if (now !== level) {
  process.stderr.write(`check-at-level: vm.memfd_noexec reads ${now} after writing ${level} (the parent's level is higher)\n`)
  process.exit(2)
}
// process.exit would drop what is still queued for a pipe (a report of a few hundred KiB): exit once
// stdout has taken everything.
const exitAfterOutput = (status) => process.stdout.write('', () => process.exit(status))
require(CLI)
  .main(rest.length ? rest : ['check'])
  .then(
    (status) => exitAfterOutput(status),
    (err) => {
      process.stderr.write(`check-at-level: ${err && err.stack ? err.stack : String(err)}\n`)
      process.exit(1)
    },
  )
