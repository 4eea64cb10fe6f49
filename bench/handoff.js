'use strict'
// Hand-off benchmark: a parent gives 1 MiB, 64 MiB and 256 MiB to a child process that reads every byte.
// For the memfd methods it also times the part memseal owns: from the producer's seal to the consumer
// holding a readable view, before it reads anything ("time to view"; the consumer notes the moment on the
// monotonic clock, which every process on the machine shares, and sends it with its answer).
//
//   memseal          the producer filled a memfd in place; timed: seal + send the fd over a socketpair +
//                    the child verifies (memfd, seals, size), maps read-only and reads every byte
//   memseal hugetlb  the same with an MFD_HUGETLB memfd (2 MiB pages on x86-64): needs a hugetlb pool
//   memseal window [hugetlb]  the same, the child receiving into one ReceiveWindow (made once, before
//                    the rounds) instead of a new mapping per hand-off
//   memseal window sync [hugetlb]  the same, received by a process that only consumes, blocked in
//                    ReceiveWindow#receiveSync (bench/handoff/sync-child.js) instead of its event loop
//   memseal+copy     the same as memseal, starting from a Buffer: share() copies it into a new memfd first
//   pipe             write the Buffer to the child's stdin; the child collects and reads it
//   worker           postMessage(Buffer) to a worker thread (structured clone: a copy); it reads it
//   /dev/shm         write the Buffer to a file in /dev/shm; the child reads the file and the bytes
//   C memfd [hugetlb] the memseal hand-off written in C (bench/c/handoff.c): what the kernel costs
//   C read floor     no hand-off: C reading every byte of pages already mapped, the machine's memory
//                    bandwidth, which bounds every method that reads every byte
//
// Each round ends when the receiver has answered with the sum of what it read, checked here. Medians
// over the rounds; ratios are pipe median / method median, and for the memseal rows memseal median / C
// median with the same pages, for the whole hand-off and for the time to view. Prints a table and writes
// bench/out/handoff.json. Needs the compiled package (npm run compile).
//
// Usage: node bench/handoff.js [--quick] [--only a,b] [--rounds N] [--reserve-hugepages]
//   --only a,b           only these methods (and the pipe, which every ratio needs)
//   --rounds N           N timed rounds for every size instead of the plan's
//   --reserve-hugepages  as root, raise vm.nr_hugepages for this run (restored at exit); without it the
//                        hugetlb rows use an existing pool or are reported as not measured, with the reason
const { fork } = require('node:child_process')
const { closeSync, mkdirSync, openSync, unlinkSync, writeFileSync, writeSync } = require('node:fs')
const { join } = require('node:path')
const { Worker } = require('node:worker_threads')
const { FdChannel } = require('../dist/fdpass')
const { Memfd } = require('../dist/memfd')
const { sealForSharing, sendShared, share } = require('../dist/share')
const cBaseline = require('./handoff/c-baseline')
const { expectedSum, fill } = require('./handoff/data')
const { ensurePool, hugePageSize, pagesNeeded, shmemThp } = require('./handoff/hugetlb')

const MiB = 1 << 20
function parseArgs(argv) {
  const args = { quick: false, reserveHugepages: false, only: null, rounds: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--quick') args.quick = true
    else if (a === '--reserve-hugepages') args.reserveHugepages = true
    else if (a === '--only' && argv[i + 1]) args.only = argv[++i].split(',')
    else if (a === '--rounds' && /^[1-9]\d*$/.test(argv[i + 1] ?? '')) args.rounds = Number(argv[++i])
    else {
      process.stderr.write(`unknown or incomplete argument ${a}\nusage: node bench/handoff.js [--quick] [--only a,b] [--rounds N] [--reserve-hugepages]\n`)
      process.exit(2)
    }
  }
  return args
}
const { quick, reserveHugepages, only, rounds: roundsOverride } = parseArgs(process.argv.slice(2))
const PLAN = quick
  ? [
      { size: 1 * MiB, rounds: 5 },
      { size: 64 * MiB, rounds: 3 },
      { size: 256 * MiB, rounds: 3 },
    ]
  : [
      { size: 1 * MiB, rounds: 21 },
      { size: 64 * MiB, rounds: 9 },
      { size: 256 * MiB, rounds: 7 },
    ]
if (roundsOverride) for (const p of PLAN) p.rounds = roundsOverride
const WARMUP = 2
const SHM = `/dev/shm/memseal-bench-${process.pid}`

const now = () => Number(process.hrtime.bigint()) / 1e6
// Progress on stderr: one line rewritten in place on a terminal; plain lines (no carriage returns) into a
// pipe or a file, where a CI log would otherwise show every update run together.
const progress = process.stderr.isTTY
  ? { live: true, line: (text) => process.stderr.write(`\r\x1b[K${text}`), done: () => process.stderr.write('\n') }
  : { live: false, line: (text) => process.stderr.write(`handoff: ${text}\n`), done: () => undefined }
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// The child process and a promise for its next IPC answer.
// A receiving process; channelEnds become its fds 3, 4, …
function startChild(script, args, channelEnds) {
  const child = fork(join(__dirname, 'handoff', script), args, { stdio: ['pipe', 'inherit', 'inherit', ...channelEnds, 'ipc'] })
  const answers = []
  const waiting = []
  child.on('message', (m) => (waiting.length ? waiting.shift()(m) : answers.push(m)))
  const next = () => new Promise((resolve) => (answers.length ? resolve(answers.shift()) : waiting.push(resolve)))
  return { child, next }
}

function check(answer, size) {
  if (answer.error || answer.sum !== expectedSum(size)) throw new Error(`receiver answered ${JSON.stringify(answer)} for ${size} bytes`)
}

// One method = `round(size, data)` resolving with the timed milliseconds, and optionally
// `unavailable(size)` returning why it cannot run at that size (the row is then reported, not measured).
function methods(ctx) {
  // The timed rest of every memseal round: send the sealed memfd, wait for the child's answer, which says
  // when it held the mapping (before reading it).
  const handOff = async (memfd, size, t0, [channel, proc] = [ctx.channel, ctx.proc]) => {
    await sendShared(channel, memfd, { size })
    const answer = await proc.next()
    const t = now() - t0
    memfd.close()
    check(answer, size)
    return { ms: t, viewMs: answer.viewNs / 1e6 - t0 }
  }
  const inPlace = (hugetlb, receiver) => async (size) => {
    const memfd = Memfd.create('bench', { exec: false, size, ...(hugetlb ? { hugetlb: true } : {}) })
    const writable = memfd.map({ protection: 'rw' })
    fill(new Uint8Array(writable.buffer)) // the producer's own work, in place: not timed
    writable.unmap()
    const t0 = now()
    return handOff(sealForSharing(memfd), size, t0, receiver)
  }
  const hugetlbUnavailable = (size) =>
    ctx.hugetlb.reason ?? (size % ctx.hugetlb.pageSize ? `${size / MiB} MiB is not a whole number of ${ctx.hugetlb.pageSize / MiB} MiB huge pages` : null)
  return {
    memseal: { round: inPlace(false) },
    'memseal hugetlb': { round: inPlace(true), unavailable: hugetlbUnavailable },
    'memseal window': { round: inPlace(false, [ctx.windowChannel, ctx.proc]) },
    'memseal window hugetlb': { round: inPlace(true, [ctx.windowChannel, ctx.proc]), unavailable: hugetlbUnavailable },
    'memseal window sync': { round: inPlace(false, [ctx.syncChannel, ctx.syncProc]) },
    'memseal window sync hugetlb': { round: inPlace(true, [ctx.syncChannel, ctx.syncProc]), unavailable: hugetlbUnavailable },
    'memseal+copy': {
      round: (size, data) => {
        const t0 = now()
        return handOff(share(data, { name: 'bench' }), size, t0)
      },
    },
    pipe: {
      round: async (size, data) => {
        ctx.proc.child.send({ mode: 'pipe', size })
        await ctx.proc.next() // ready
        const t0 = now()
        ctx.proc.child.stdin.write(data)
        const answer = await ctx.proc.next()
        const t = now() - t0
        check(answer, size)
        return t
      },
    },
    worker: {
      round: async (size, data) => {
        const t0 = now()
        ctx.worker.postMessage(data)
        const answer = await new Promise((resolve) => ctx.worker.once('message', resolve))
        const t = now() - t0
        check(answer, size)
        return t
      },
    },
    '/dev/shm': {
      round: async (size, data) => {
        const t0 = now()
        const fd = openSync(SHM, 'w', 0o600)
        for (let done = 0; done < size;) done += writeSync(fd, data, done, size - done)
        closeSync(fd)
        ctx.proc.child.send({ mode: 'devshm', path: SHM, size })
        const answer = await ctx.proc.next()
        const t = now() - t0
        unlinkSync(SHM)
        check(answer, size)
        return t
      },
    },
    // The C programs time themselves; each call makes one discarded warm-up round and one timed one.
    'C memfd': { round: (size) => cBaseline.run(size, 1, 1)[0], unavailable: () => ctx.cReason },
    'C memfd hugetlb': {
      round: (size) => cBaseline.run(size, 1, 1, 'hugetlb')[0],
      unavailable: (size) => ctx.cReason ?? hugetlbUnavailable(size),
    },
    // The same in C with the checks memseal's receive() makes by design (F_GETFL, readlink, fstatfs, the
    // identity fstat): what is left between this row and memseal's is memseal's own code.
    'C memfd+checks': { round: (size) => cBaseline.run(size, 1, 1, 'shmem', true)[0], unavailable: () => ctx.cReason },
    'C memfd hugetlb+checks': {
      round: (size) => cBaseline.run(size, 1, 1, 'hugetlb', true)[0],
      unavailable: (size) => ctx.cReason ?? hugetlbUnavailable(size),
    },
    'C read floor': { round: (size) => cBaseline.run(size, 1, 1, 'floor')[0], unavailable: () => ctx.cReason },
  }
}

// What each memseal row is compared with in the "vs C" columns: the C rows with the same pages, bare and
// with the checks memseal makes by design.
// Each memseal row's C rows: the same pages (4 KiB shmem or huge pages), without and with memseal's checks.
const C_OF = {}
const C_CHECKS_OF = {}
for (const method of ['memseal', 'memseal window', 'memseal window sync']) {
  C_OF[method] = 'C memfd'
  C_CHECKS_OF[method] = 'C memfd+checks'
  C_OF[`${method} hugetlb`] = 'C memfd hugetlb'
  C_CHECKS_OF[`${method} hugetlb`] = 'C memfd hugetlb+checks'
}

function hugetlbSetup() {
  const pageSize = hugePageSize()
  if (pageSize === 0) return { pageSize: 1, reason: 'the kernel has no hugetlb support (no Hugepagesize in /proc/meminfo)', note: null }
  const eligible = PLAN.map((p) => p.size).filter((size) => size % pageSize === 0)
  if (eligible.length === 0) return { pageSize, reason: `no planned size is a whole number of ${pageSize / MiB} MiB pages`, note: null }
  const pool = ensurePool(pagesNeeded(Math.max(...eligible), pageSize), pageSize, reserveHugepages)
  return { pageSize, reason: pool.ok ? null : pool.reason, note: pool.ok ? pool.note : null }
}

function table(results) {
  const header = '| size | method | median ms | min–max ms | GB/s | vs pipe | vs C | time to view ms | view vs C | view vs C+checks |'
  const rule = '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|'
  const ratio = (x) => (x === undefined ? '' : x.toFixed(2))
  const lines = results.map((r) => {
    const view = r.medianViewMs === undefined ? '' : r.medianViewMs.toFixed(3)
    return (
      `| ${r.sizeMiB} MiB | ${r.method} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)}–${r.maxMs.toFixed(2)} | ${r.gbPerS.toFixed(2)} | ` +
      `${r.vsPipe.toFixed(1)}× | ${ratio(r.vsC)} | ${view} | ${ratio(r.viewVsC)} | ${ratio(r.viewVsCChecks)} |`
    )
  })
  return [header, rule, ...lines].join('\n')
}

async function main() {
  const hugetlb = hugetlbSetup()
  const cReason = cBaseline.prepare()
  const [mine, theirs] = FdChannel.socketpair()
  const [windowMine, windowTheirs] = FdChannel.socketpair()
  const [syncMine, syncTheirs] = FdChannel.socketpair()
  const windowCapacity = Math.max(...PLAN.map((p) => p.size))
  const proc = startChild('child.js', [], [theirs, windowTheirs])
  const syncProc = startChild('sync-child.js', [String(windowCapacity)], [syncTheirs])
  for (const fd of [theirs, windowTheirs, syncTheirs]) closeSync(fd)
  const channel = FdChannel.adopt(mine)
  const windowChannel = FdChannel.adopt(windowMine)
  const syncChannel = FdChannel.adopt(syncMine)
  proc.child.send({ mode: 'memseal', windowCapacity })
  await proc.next()
  await syncProc.next()
  const worker = new Worker(join(__dirname, 'handoff', 'worker.js'))
  const run = methods({ channel, windowChannel, syncChannel, proc, syncProc, worker, hugetlb, cReason })
  const results = []
  const notMeasured = []
  const started = now()
  for (const { size, rounds } of PLAN) {
    const data = fill(Buffer.alloc(size))
    const measured = []
    for (const [method, m] of Object.entries(run)) {
      if (only && !only.includes(method) && method !== 'pipe') continue
      const reason = m.unavailable?.(size)
      if (reason) notMeasured.push({ sizeMiB: size / MiB, method, reason })
      else measured.push({ method, round: m.round, times: [], viewTimes: [] })
    }
    // Round-robin, starting one method later each round, so that whatever drifts on the machine (and
    // whatever one method leaves behind for the next) falls on every method alike.
    if (!progress.live) progress.line(`${size / MiB} MiB: ${WARMUP} warm-up + ${rounds} timed rounds of ${measured.map((m) => m.method).join(', ')}`)
    for (let i = 0; i < WARMUP + rounds; i++) {
      if (progress.live) progress.line(`${size / MiB} MiB round ${i + 1}/${WARMUP + rounds}`)
      for (let k = 0; k < measured.length; k++) {
        const cell = measured[(i + k) % measured.length]
        const t = await cell.round(size, data)
        if (i < WARMUP) continue
        cell.times.push(typeof t === 'number' ? t : t.ms)
        if (typeof t !== 'number') cell.viewTimes.push(t.viewMs)
      }
    }
    for (const { method, times, viewTimes } of measured) {
      const view = viewTimes.length ? { medianViewMs: median(viewTimes), viewTimesMs: viewTimes } : {}
      results.push({
        sizeMiB: size / MiB,
        method,
        rounds,
        medianMs: median(times),
        minMs: Math.min(...times),
        maxMs: Math.max(...times),
        timesMs: times,
        ...view,
      })
    }
  }
  progress.done()
  proc.child.send({ mode: 'exit' })
  channel.close()
  windowChannel.close()
  syncChannel.close() // the blocked receiver sees the channel end, and exits
  await worker.terminate()

  for (const r of results) {
    const pipe = results.find((p) => p.sizeMiB === r.sizeMiB && p.method === 'pipe')
    r.vsPipe = pipe.medianMs / r.medianMs
    r.gbPerS = (r.sizeMiB * MiB) / (r.medianMs / 1000) / 1e9
    const c = results.find((p) => p.sizeMiB === r.sizeMiB && p.method === C_OF[r.method])
    if (c) r.vsC = r.medianMs / c.medianMs
    if (c && r.medianViewMs !== undefined) r.viewVsC = r.medianViewMs / c.medianViewMs
    const cChecks = results.find((p) => p.sizeMiB === r.sizeMiB && p.method === C_CHECKS_OF[r.method])
    if (cChecks && r.medianViewMs !== undefined) r.viewVsCChecks = r.medianViewMs / cChecks.medianViewMs
  }
  console.log(table(results))
  const total = (now() - started) / 1000
  const environment = `shmem THP: ${shmemThp()}; ${hugetlb.note ?? 'hugetlb: not used'}`
  console.log(
    `\n${results.length} cells, medians of ${PLAN.map((p) => p.rounds).join('/')} rounds after ${WARMUP} warm-up rounds; ${total.toFixed(1)} s; node ${process.version}`,
  )
  console.log(
    `${environment}. "vs C": memseal median / C median with the same pages (1.00 = the kernel's own cost); "time to view": from the ` +
      `producer's seal to the consumer holding the read-only mapping, before it reads (memfd methods); "view vs C+checks": against C ` +
      `making the same checks as memseal's receive().`,
  )
  for (const n of notMeasured) console.log(`not measured: ${n.sizeMiB} MiB ${n.method}: ${n.reason}`)
  const out = join(__dirname, 'out')
  mkdirSync(out, { recursive: true })
  const report = { node: process.version, kernel: require('node:os').release(), environment, plan: PLAN, warmup: WARMUP, results, notMeasured }
  writeFileSync(join(out, 'handoff.json'), `${JSON.stringify(report, null, 2)}\n`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
