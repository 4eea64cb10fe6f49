'use strict'
// Leak soak. Phases, each of which must give everything back (fds, mappings, finalizer bookkeeping):
//   cycles    N × create → write → map → add seals → unmap → close
//   drop      N mappings dropped to the garbage collector (the loop yields now and then)
//   large     mappings over 4 GiB (a sparse 8 GiB memfd, 4 GiB + a page of PROT_NONE memory), read
//             through windows
//   pastEof   ranges past the end of a file and resizes under a live view: refused, every time
//   reuse     descriptors closed behind memseal's back and given to another file: never acted on
//   dropSync  N mappings dropped in a loop that never yields (memseal reclaims what the collector took),
//             twice: the first raises malloc's high-water mark (Node's and memseal's bookkeeping of N
//             objects whose finalizers wait for the event loop), the second must not raise it further
//   workers   worker threads terminated in the middle of creating, mapping and dropping (last: the
//             runtime keeps a few small VMAs of its own from ended threads, see `small` below)
// Prints fd count, mapping count and RSS at the start and after each phase. Run with --expose-gc.
// Usage: node --expose-gc scripts/soak.js [N]
const { closeSync, openSync, readdirSync, readFileSync } = require('node:fs')
const { join } = require('node:path')
const { isMainThread, parentPort, Worker } = require('node:worker_threads')
const { Memfd, Mapping } = require(join(__dirname, '..', 'dist'))
const { native } = require(join(__dirname, '..', 'dist', 'native'))

const PAGE = native.constants.PAGE_SIZE

// A worker of the termination phase: maps, views and drops until it is terminated.
if (!isMainThread) {
  parentPort.postMessage('started')
  for (let i = 0; ; i++) {
    const m = Memfd.create('soak-worker', { size: 2 * PAGE })
    const v = m.map({ protection: 'rw' })
    new Uint8Array(v.buffer)[i % PAGE] = 1
    Mapping.anonymous(PAGE).unmap()
    if (i % 2) continue // dropped: the environment's teardown gives them back
    v.unmap()
    m.close()
  }
}

const n = Number(process.argv[2] || 100000)
const payload = Buffer.alloc(PAGE, 0x5a)
const snapshot = () => {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean)
  // VMAs of at most two pages: the soak's own kind. V8 grows its heap in 256 KiB regions, which must not
  // blur the count; `maps` (every line) is reported as well.
  const pages = (line) => {
    const [start, end] = line
      .split(' ')[0]
      .split('-')
      .map((h) => parseInt(h, 16))
    return (end - start) / PAGE
  }
  const small = maps.filter((line) => pages(line) <= 2).length
  // Accessible one-page VMAs: the kind every mapping of this soak is (or leaves, replaced by anonymous
  // memory), and not one the runtime makes for a thread (a stack of pages between PROT_NONE guards).
  const onePage = maps.filter((line) => pages(line) === 1 && !line.split(' ')[1].startsWith('---')).length
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
  const mu = process.memoryUsage()
  return {
    fds: readdirSync('/proc/self/fd').length,
    maps: maps.length,
    small,
    onePage,
    memfdMaps: maps.filter((l) => l.includes('/memfd:soak')).length,
    live: native.liveMappings(),
    liveAll: native.mappingBudget()[0], // every thread's
    pending: native.pendingFinalizers(),
    rss,
    heapTotal: mu.heapTotal,
    external: mu.external,
    arrayBuffers: mu.arrayBuffers,
  }
}
const settle = async () => {
  for (let i = 0; i < 10; i++) {
    global.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}
const turn = () => new Promise((resolve) => setImmediate(resolve))
const rounds = (k, min) => Math.max(min, Math.floor(n / k))
const refusedWith = (code, fn) => {
  try {
    fn()
  } catch (err) {
    if (err.code === code) return 1
    throw err
  }
  throw new Error(`expected ${code}`)
}

let checksum = 0
const rssAfterDropSync = []
const counts = { large: 0, pastEofRefused: 0, reuseRefused: 0, workers: 0, dropSyncPeak: 0 }

// Each phase is a function of its own, so that nothing it made stays referenced once it returns.
const phases = {
  async cycles() {
    for (let i = 0; i < n; i++) {
      // Node runs an external ArrayBuffer's finalizer on the event loop after it is detached, so a
      // service that yields now and then gives the bookkeeping back as it goes; so does this loop.
      if (i % 1000 === 999) await turn()
      const m = Memfd.create('soak', { size: PAGE })
      m.write(payload)
      const view = m.map({ protection: 'r' })
      m.addSeals(['shrink', 'grow', 'future-write']) // F_SEAL_WRITE would be EBUSY while mapped (F_ADD_SEALS(2const))
      checksum += new Uint8Array(view.buffer)[i % PAGE]
      view.unmap()
      m.close()
    }
  },
  async drop() {
    // Dropped, never unmapped: only the garbage collector releases them. A service yields to its event
    // loop now and then, which is where V8 finishes its incremental marking; so does this loop.
    for (let i = 0; i < n; i++) {
      if (i % 1000 === 999) await turn()
      if (i % 2) Mapping.anonymous(PAGE)
      else {
        const m = Memfd.create('soak', { size: PAGE })
        m.map()
        m.close()
      }
    }
  },
  async large() {
    for (let i = 0; i < rounds(2000, 10); i++) {
      const m = Memfd.create('soak-large', { size: 8 * 2 ** 30 })
      const v = m.map()
      new Uint8Array(v.view(8 * 2 ** 30 - PAGE))[PAGE - 1]
      v.unmap()
      m.close()
      const anon = Mapping.anonymous(2 ** 32 + PAGE, { protection: 'none' })
      anon.protect('r', 2 ** 32)
      new Uint8Array(anon.view(2 ** 32))[0]
      anon.unmap()
      counts.large++
    }
  },
  async pastEof() {
    for (let i = 0; i < rounds(100, 100); i++) {
      const m = Memfd.create('soak-eof', { size: 2 * PAGE })
      counts.pastEofRefused += refusedWith('ERR_OUT_OF_RANGE', () => m.map({ length: 3 * PAGE }))
      const v = m.map({ offset: PAGE })
      counts.pastEofRefused += refusedWith('ERR_OUT_OF_RANGE', () => m.resize(PAGE))
      counts.pastEofRefused += refusedWith('ERR_OUT_OF_RANGE', () => v.remap(2 * PAGE))
      new Uint8Array(v.buffer)[PAGE - 1]
      v.unmap()
      m.resize(0)
      m.close()
    }
  },
  async reuse() {
    for (let i = 0; i < rounds(100, 100); i++) {
      const m = Memfd.create('soak-reuse', { size: PAGE })
      closeSync(m.fd)
      const other = openSync('/dev/null', 'r')
      counts.reuseRefused += refusedWith('ERR_MEMSEAL_CLOSED', () => m.write('x'))
      m.close()
      closeSync(other)
    }
  },
  async dropSync() {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < n; i++) {
        if (i % 2) Mapping.anonymous(PAGE)
        else void new Uint8Array(Memfd.create('soak', { size: PAGE }).map().buffer)[0]
        if (i % 1000 === 0) counts.dropSyncPeak = Math.max(counts.dropSyncPeak, native.liveMappings())
      }
      await settle()
      rssAfterDropSync.push(snapshot().rss)
    }
  },
  async workers() {
    for (let i = 0; i < rounds(5000, 10); i++) {
      await terminatedWorker(Math.random() * 20)
      counts.workers++
    }
  },
}

async function terminatedWorker(ms) {
  const worker = new Worker(__filename, { argv: [], trackUnmanagedFds: false })
  const exited = new Promise((resolve) => worker.on('exit', resolve))
  await new Promise((resolve) => worker.once('message', resolve))
  await new Promise((resolve) => setTimeout(resolve, ms))
  await worker.terminate()
  await exited
}

;(async () => {
  // Warm-up, so that the JavaScript heap reaches its working size and the process has made whatever it
  // makes once for the first worker thread, before the baseline.
  for (let i = 0; i < 2000; i++) Mapping.anonymous(PAGE)
  await terminatedWorker(5)
  await settle()
  const start = snapshot()
  const after = {}
  const seconds = {}
  for (const [name, run] of Object.entries(phases)) {
    const t0 = Date.now()
    await run()
    seconds[name] = (Date.now() - t0) / 1000
    await settle()
    after[name] = snapshot()
  }
  // RSS: what a long-running service would see (start to the end of the phases that yield), and what a
  // second loop that never yields adds over the first (nothing, if nothing leaks).
  const out = {
    n,
    checksumOk: checksum === n * 0x5a,
    start,
    after,
    counts,
    rssGrowthBytes: after.reuse.rss - start.rss,
    rssDropSyncHighWater: rssAfterDropSync[0] - after.reuse.rss,
    rssDropSyncRepeatGrowth: rssAfterDropSync[1] - rssAfterDropSync[0],
    seconds,
  }
  console.log(JSON.stringify(out))
  // `onePage`, not `small` (VMAs of at most two pages), is compared: under the garbage collector's pressure
  // and with threads ending, V8 and glibc keep a few small regions of threads (two pages between guard
  // pages), which say nothing of memseal. What memseal holds is counted by live, liveAll, pending, fds.
  const same = (s) =>
    s.fds === start.fds &&
    s.onePage === start.onePage &&
    s.live === start.live &&
    s.liveAll === start.liveAll &&
    s.pending === start.pending &&
    s.memfdMaps === 0
  const ok =
    out.checksumOk &&
    Object.values(after).every(same) &&
    counts.dropSyncPeak < native.mappingBudget()[1] &&
    (process.env.MEMSEAL_SANITIZER !== undefined || (out.rssGrowthBytes < 10 * 1024 * 1024 && out.rssDropSyncRepeatGrowth < 10 * 1024 * 1024)) // ASan quarantines freed memory
  process.exit(ok ? 0 : 1)
})()
