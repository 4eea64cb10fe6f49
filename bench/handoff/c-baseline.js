'use strict'
// Runs bench/c/handoff.c, the same sealed hand-off written directly against the kernel, for the rows
// that show what the system calls themselves cost in this run. Compiled on first use with
// `cc -O3 -march=native` (the read floor should be the fastest read this CPU can do); without a C
// compiler the rows are reported as not measured, with the reason.
const { execFileSync } = require('node:child_process')
const { existsSync, mkdirSync, statSync } = require('node:fs')
const { join } = require('node:path')

const SOURCE = join(__dirname, '..', 'c', 'handoff.c')
const BINARY = join(__dirname, '..', 'bin', 'handoff-native') // not bench/run.js's -O2 build of the same file

/** Returns null when the baseline is ready, or the reason it is not. */
function prepare() {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return null
  mkdirSync(join(__dirname, '..', 'bin'), { recursive: true })
  try {
    execFileSync('cc', ['-O3', '-march=native', '-Wall', '-Wextra', '-o', BINARY, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] })
    return null
  } catch (err) {
    return err.code === 'ENOENT' ? 'no C compiler (cc) to build bench/c/handoff.c' : `cc failed: ${String(err.stderr).trim()}`
  }
}

/**
 * The timed rounds of one size (the program checks every sum itself): milliseconds for the floor, else
 * { ms, viewMs }, the whole hand-off and the time from the seal to the child holding its view.
 * `mode`: undefined or 'shmem' (4 KiB shmem pages), 'hugetlb', or 'floor' (no hand-off: reads of mapped
 * pages only); `memsealChecks`: the child also makes the calls memseal's receive() makes by design.
 */
function run(size, rounds, warmup, mode, memsealChecks = false) {
  const args = [String(size), String(rounds), String(warmup), mode ?? 'shmem', ...(memsealChecks ? ['memseal-checks'] : [])]
  const out = execFileSync(BINARY, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [ms, viewMs] = line.split(' ').map(Number)
      return viewMs === undefined ? ms : { ms, viewMs }
    })
}

module.exports = { prepare, run }
