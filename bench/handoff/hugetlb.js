'use strict'
// The hugetlb pool for the benchmark's huge-page rows. A memfd made with MFD_HUGETLB takes its pages from
// the pool that vm.nr_hugepages reserves (empty by default), and fails with ENOMEM when the pool is short.
// The benchmark never touches the pool unless asked: with --reserve-hugepages (as root) it raises
// vm.nr_hugepages by what it lacks for the run and puts the old value back when it exits, whatever the
// reason; otherwise it uses a pool the administrator set up, or reports the rows as not measured.
const { readFileSync, writeFileSync } = require('node:fs')
const { constants } = require('node:os')

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages'

function meminfo() {
  const fields = {}
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^([\w()]+):\s+(\d+)/.exec(line)
    if (m) fields[m[1]] = Number(m[2])
  }
  return fields
}

/** The default huge page size in bytes, or 0 when the kernel has no hugetlb support. */
function hugePageSize() {
  return (meminfo().Hugepagesize ?? 0) * 1024
}

/**
 * Pages the benchmark needs for `largest` bytes: three memfds' worth, because the child unmaps a round's
 * mapping only after it has answered, so the next round's memfd (memseal's, or the C baseline's in its
 * own process) may be created while it still holds the previous one's pages, and the C program's own
 * consumer may still hold its last one as the next C row starts.
 */
function pagesNeeded(largest, pageSize) {
  return 3 * Math.ceil(largest / pageSize)
}

/**
 * Makes sure the pool of `pageSize` pages holds `needed` free ones. Returns { ok: true, note } or
 * { ok: false, reason }. With `reserve`, raises vm.nr_hugepages and registers the restore of its old
 * value at exit.
 */
function ensurePool(needed, pageSize, reserve) {
  const free = meminfo().HugePages_Free ?? 0
  const mib = (needed * pageSize) / 2 ** 20
  if (free >= needed) return { ok: true, note: `hugetlb pool: ${free} free pages of ${pageSize / 2 ** 20} MiB (${needed} needed)` }
  const howTo =
    `needs ${needed} free huge pages of ${pageSize / 2 ** 20} MiB (${mib} MiB), the pool has ${free}; ` +
    `run \`sysctl vm.nr_hugepages=${needed}\` first, or pass --reserve-hugepages as root to reserve them for this run only`
  if (!reserve) return { ok: false, reason: howTo }
  let before
  try {
    before = Number(readFileSync(NR_HUGEPAGES, 'utf8'))
    writeFileSync(NR_HUGEPAGES, String(before + needed - free))
  } catch (err) {
    return { ok: false, reason: `could not reserve huge pages (${err.code || err.message}): ${howTo}` }
  }
  const restore = () => writeFileSync(NR_HUGEPAGES, String(before))
  process.on('exit', restore)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => process.exit(128 + constants.signals[signal]))
  const got = meminfo().HugePages_Free ?? 0
  if (got < needed) {
    return { ok: false, reason: `asked the kernel for ${needed} free huge pages and got ${got} (memory too fragmented?)` }
  }
  return { ok: true, note: `hugetlb pool: vm.nr_hugepages raised from ${before} to ${before + needed - free} for this run (restored at exit)` }
}

/** The shmem transparent huge page policy, which decides the page size of an ordinary memfd. */
function shmemThp() {
  try {
    const text = readFileSync('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'utf8')
    return /\[(\w+)\]/.exec(text)?.[1] ?? 'unknown'
  } catch {
    return 'unavailable'
  }
}

module.exports = { ensurePool, hugePageSize, pagesNeeded, shmemThp }
