'use strict'
// Leak soak: N cycles of create → write → map → add seals → unmap → close, then N mappings
// dropped to the garbage collector. Prints fd count, mapping count and RSS at the start, after each
// phase and at the end. Run with --expose-gc.  Usage: node --expose-gc scripts/soak.js [N]
const { readdirSync, readFileSync } = require('node:fs')
const { join } = require('node:path')
const { Memfd, Mapping } = require(join(__dirname, '..', 'dist'))
const { native } = require(join(__dirname, '..', 'dist', 'native'))

const n = Number(process.argv[2] || 100000)
const PAGE = native.constants.PAGE_SIZE
const payload = Buffer.alloc(PAGE, 0x5a)
const snapshot = () => {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean)
  // VMAs of at most two pages: the soak's own kind. V8 grows its heap in 256 KiB regions, which must not
  // blur the count; `maps` (every line) is reported as well.
  const small = maps.filter((line) => {
    const [start, end] = line
      .split(' ')[0]
      .split('-')
      .map((h) => parseInt(h, 16))
    return end - start <= 2 * PAGE
  }).length
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
  const mu = process.memoryUsage()
  return {
    fds: readdirSync('/proc/self/fd').length,
    maps: maps.length,
    small,
    memfdMaps: maps.filter((l) => l.includes('/memfd:soak')).length,
    live: native.liveMappings(),
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

;(async () => {
  // warm-up so the JavaScript heap reaches its working size before the baseline
  for (let i = 0; i < 2000; i++) Mapping.anonymous(PAGE)
  await settle()
  const start = snapshot()
  const t0 = Date.now()
  let checksum = 0
  for (let i = 0; i < n; i++) {
    // Node runs an external ArrayBuffer's finalizer on the event loop after it is detached, so a service
    // that yields now and then gives the bookkeeping back as it goes; so does this loop.
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
    const m = Memfd.create('soak', { size: PAGE })
    m.write(payload)
    const view = m.map({ protection: 'r' })
    m.addSeals(['shrink', 'grow', 'future-write']) // F_SEAL_WRITE would be EBUSY while mapped (F_ADD_SEALS(2const))
    checksum += new Uint8Array(view.buffer)[i % PAGE]
    view.unmap()
    m.close()
  }
  const cycleSeconds = (Date.now() - t0) / 1000
  await settle()
  const afterCycles = snapshot()
  const t1 = Date.now()
  // Dropped, never unmapped: only the garbage collector releases them. A service yields to its event
  // loop now and then, which is where V8 finishes its incremental marking; so does this loop.
  for (let i = 0; i < n; i++) {
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
    if (i % 2) Mapping.anonymous(PAGE)
    else {
      const m = Memfd.create('soak', { size: PAGE })
      m.map()
      m.close()
    }
  }
  const dropSeconds = (Date.now() - t1) / 1000
  await settle()
  const end = snapshot()
  const out = { n, checksumOk: checksum === n * 0x5a, start, afterCycles, end, rssGrowthBytes: end.rss - start.rss, cycleSeconds, dropSeconds }
  console.log(JSON.stringify(out))
  const ok =
    out.checksumOk &&
    end.fds === start.fds &&
    afterCycles.fds === start.fds &&
    end.memfdMaps === 0 &&
    end.live === start.live &&
    end.small === start.small &&
    afterCycles.small === start.small &&
    afterCycles.live === start.live &&
    end.pending === start.pending &&
    (process.env.MEMSEAL_SANITIZER !== undefined || out.rssGrowthBytes < 10 * 1024 * 1024) // ASan quarantines freed memory
  process.exit(ok ? 0 : 1)
})()
