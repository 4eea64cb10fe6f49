'use strict'
// Property-based fuzzing of the public API (fast-check): random call sequences over a small pool of
// memfds and mappings, with arguments of every wrong type, sign, size and range, in every order (use
// after close, unmap twice, seal then resize, map beyond the end of the file, resize under live views,
// windows of mappings over 4 GiB, descriptors closed behind memseal's back and reused by another file).
// Each call must succeed or throw a typed error; reads through the views must never fault (a SIGBUS or
// SIGSEGV would kill the fuzzer); at the end every fd and mapping is released. A last phase runs the same
// sequences in worker threads terminated at random moments: the process must survive them all.
//
// Runs in its own process: the sequences include mseal, which must never run in a jest worker.
// Usage: node scripts/fuzz.js [--calls N] [--seed S] [--workers N]     (npm run fuzz = 100,000 calls)
const fc = require('fast-check')
const { closeSync, fstatSync, openSync, readdirSync } = require('node:fs')
const { join } = require('node:path')
const { isMainThread, parentPort, Worker, workerData } = require('node:worker_threads')
const root = join(__dirname, '..')
const { Memfd, Mapping, kernel } = require(join(root, 'dist'))
const { native } = require(join(root, 'dist', 'native'))

const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const targetCalls = opt('calls', 100000)
const seed = opt('seed', Date.now() % 2 ** 31)
const workerRounds = opt('workers', 20)
const PAGE = native.constants.PAGE_SIZE
const OPS_PER_RUN = 60

const NODE_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_VALUE'])
// An outcome is acceptable when it is a success, a Node-coded TypeError/RangeError, a MemsealError, or a
// SystemError naming its syscall.
function typed(err) {
  if (!err || typeof err !== 'object') return false
  if (NODE_CODES.has(err.code)) return err instanceof TypeError || err instanceof RangeError
  if (typeof err.code === 'string' && err.code.startsWith('ERR_MEMSEAL_')) return err.name === 'MemsealError'
  return /^E[A-Z0-9]+$/.test(err.code ?? '') && typeof err.syscall === 'string' && typeof err.errno === 'number'
}

const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.string({ maxLength: 6 }),
  fc.bigInt({ min: -5n, max: 5n }),
  fc.constant({}),
  fc.constant([]),
  fc.constant(NaN),
  fc.constant(Infinity),
  fc.constant(-Infinity),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
)
const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 16 * PAGE }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 64 * 1024) },
  { weight: 2, arbitrary: fc.constantFrom(-1, -PAGE, 1.5, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 33, 2 ** 53, 2 ** 60, Number.MAX_SAFE_INTEGER) },
  { weight: 1, arbitrary: junk },
)
const offset = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 8 }).map((n) => n * PAGE) },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 8 * PAGE }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 32 - PAGE, 2 ** 32, 2 ** 33 - PAGE) },
  { weight: 1, arbitrary: junk },
)
const sealName = fc.constantFrom('seal', 'shrink', 'grow', 'write', 'future-write', 'exec', 'sael', 'WRITE')
const seals = fc.oneof(fc.array(sealName, { maxLength: 4 }), fc.integer({ min: -1, max: 0x7f }), junk)
const protection = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('none', 'r', 'rw', 'rx', 'rwx') },
  { weight: 1, arbitrary: fc.oneof(fc.constant('w'), junk) },
)
const bool = fc.oneof({ weight: 8, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk })
const maybe = (arb) => fc.option(arb, { nil: undefined })
const createOptions = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      { sealing: maybe(bool), exec: maybe(bool), cloexec: maybe(bool), size: maybe(size), hugetlb: maybe(fc.constantFrom(true, '2MB', '1GB', '3MB')) },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant({ seling: true }), junk) },
)
const mapOptions = fc.oneof(
  { weight: 8, arbitrary: fc.record({ protection: maybe(protection), shared: maybe(bool), offset: maybe(offset), length: maybe(size) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.oneof(fc.constant({ lenght: PAGE }), junk) },
)
const advice = fc.constantFrom(
  'normal',
  'random',
  'sequential',
  'willneed',
  'dontneed',
  'free',
  'remove',
  'dontfork',
  'dofork',
  'hugepage',
  'nohugepage',
  'dontdump',
  'dodump',
  'wipeonfork',
  'keeponfork',
  'cold',
  'pageout',
  'populate-read',
  'populate-write',
  'guard-install',
  'guard-remove',
  'bogus',
)
const slot = fc.integer({ min: 0, max: 3 })

// One call: [name, arguments]. Slots pick an object of the pool (or nothing, if that slot is empty).
const OPERATION_NAMES = [
  'create',
  'from',
  'resize',
  'write',
  'read',
  'addSeals',
  'getSeals',
  'map',
  'close',
  'anonymous',
  'protect',
  'advise',
  'mseal',
  'remap',
  'unmap',
  'probe',
  'length',
  'view',
  'touch',
  'big',
  'reuse',
]
const operations = [
  fc.tuple(fc.constant('create'), fc.oneof(fc.string({ maxLength: 12 }), fc.constant('a'.repeat(250)), junk), createOptions),
  fc.tuple(
    fc.constant('from'),
    fc.oneof(slot, fc.integer({ min: -1, max: 64 }), junk),
    fc.record({ require: maybe(seals), maxSize: maybe(size) }, { requiredKeys: [] }),
  ),
  fc.tuple(fc.constant('resize'), slot, size),
  fc.tuple(fc.constant('write'), slot, fc.oneof(fc.uint8Array({ maxLength: 3 * PAGE }), fc.string({ maxLength: 8 }), junk), maybe(offset)),
  fc.tuple(fc.constant('read'), slot, maybe(fc.oneof(fc.integer({ min: 0, max: 4 * PAGE }), junk)), maybe(offset)),
  fc.tuple(fc.constant('addSeals'), slot, seals),
  fc.tuple(fc.constant('getSeals'), slot),
  fc.tuple(fc.constant('map'), slot, mapOptions),
  fc.tuple(fc.constant('close'), slot),
  fc.tuple(fc.constant('anonymous'), size, fc.record({ protection: maybe(protection), shared: maybe(bool) }, { requiredKeys: [] })),
  fc.tuple(fc.constant('protect'), slot, protection, maybe(offset), maybe(size)),
  fc.tuple(fc.constant('advise'), slot, advice, maybe(offset), maybe(size)),
  fc.tuple(fc.constant('mseal'), slot, maybe(offset), maybe(size)),
  fc.tuple(fc.constant('remap'), slot, size, fc.record({ mayMove: maybe(bool) }, { requiredKeys: [] })),
  fc.tuple(fc.constant('unmap'), slot),
  fc.tuple(fc.constant('probe'), slot, fc.oneof(fc.integer({ min: -1, max: 8 * PAGE }), junk), fc.constantFrom('read', 'write', 'exec', 'jump')),
  fc.tuple(fc.constant('length'), slot),
  // a window of a mapping, and a read through it (never a fault: no range past EOF, no cut under a view)
  fc.tuple(fc.constant('view'), slot, maybe(offset), maybe(size)),
  fc.tuple(fc.constant('touch'), slot, fc.integer({ min: 0, max: 2 ** 33 })),
  // a mapping larger than one ArrayBuffer (virtual only: PROT_NONE, or a sparse memfd)
  fc.tuple(fc.constant('big'), fc.constantFrom(2 ** 32 + 1, 2 ** 32 + PAGE, 2 ** 33), fc.boolean()),
  // the descriptor closed behind memseal's back and its number given to another file
  fc.tuple(fc.constant('reuse'), slot),
]
// In the worker phase, not the two operations whose raw descriptors are the fuzzer's own (a dup handed to
// Memfd.from, a file opened in place of a memfd's number): a worker terminated between opening such a
// descriptor and handing it over would leak it, and that would be the fuzzer's leak, not memseal's.
const call = fc.oneof(...operations.filter((arb, i) => isMainThread || !['from', 'reuse'].includes(OPERATION_NAMES[i])))

let calls = 0
let unexpected = 0
let sealedLeft = 0
const sealedKept = []
const outcomes = new Map()

// Mappings that may be read without a fault: no protection without read was ever set on any part of them,
// no guard page installed. Every other mapping may only be probed (in a forked child).
const readable = new WeakSet()
const READABLE = new Set(['r', 'rw', 'rx', 'rwx'])
// Files opened by 'reuse' in place of a memfd's descriptor: they must come out of each sequence untouched.
const OTHER = '/dev/null'

function runSequence(seq) {
  const memfds = []
  const maps = []
  const others = []
  const at = (pool, i) => (pool.length ? pool[i % pool.length] : undefined)
  const track = (mapping, protection) => {
    if (READABLE.has(protection ?? 'r')) readable.add(mapping)
    maps.push(mapping)
  }
  for (const [op, a, b, c, d] of seq) {
    calls++
    let label = op
    try {
      switch (op) {
        case 'create':
          memfds.push(Memfd.create(a, b))
          break
        case 'from': {
          const fd = typeof a === 'number' && a < 4 && at(memfds, a) && !at(memfds, a).closed ? at(memfds, a).fd : a
          // only adopt fds we own (a duplicate, so two objects never own one fd)
          const dup =
            typeof fd === 'number' && fd >= 0 && memfds.some((m) => !m.closed && m.fd === fd) ? native.fcntl(fd, native.constants.F_DUPFD_CLOEXEC, 0) : -1
          if (dup >= 0) {
            try {
              memfds.push(Memfd.from(dup, b))
            } catch (err) {
              require('node:fs').closeSync(dup)
              throw err
            }
          } else if (typeof fd !== 'number' || fd < 0 || !Number.isInteger(fd)) {
            Memfd.from(fd, b)
          }
          break
        }
        case 'resize':
          at(memfds, a)?.resize(b)
          break
        case 'write':
          at(memfds, a)?.write(b, c)
          break
        case 'read':
          at(memfds, a)?.read(b, c)
          break
        case 'addSeals':
          at(memfds, a)?.addSeals(b)
          break
        case 'getSeals': {
          const m = at(memfds, a)
          if (m) {
            m.seals
            m.sealBits
          }
          break
        }
        case 'map': {
          const m = at(memfds, a)
          if (m) track(m.map(b), b && typeof b === 'object' ? b.protection : 'r')
          break
        }
        case 'close':
          at(memfds, a)?.close()
          break
        case 'anonymous':
          track(Mapping.anonymous(a, b), b && typeof b === 'object' && b.protection !== undefined ? b.protection : 'rw')
          break
        case 'protect': {
          const v = at(maps, a)
          if (v && !READABLE.has(b)) readable.delete(v) // even when it fails: it may have changed part of it
          v?.protect(b, c, d)
          break
        }
        case 'advise': {
          const v = at(maps, a)
          if (v && b === 'guard-install') readable.delete(v)
          v?.advise(b, c, d)
          break
        }
        case 'mseal':
          at(maps, a)?.seal(b, c)
          break
        case 'remap':
          at(maps, a)?.remap(b, c)
          break
        case 'unmap':
          at(maps, a)?.unmap()
          break
        case 'probe':
          at(maps, a)?.probe(b, c)
          break
        case 'length': {
          const v = at(maps, a)
          if (v && !v.mapped && v.buffer.byteLength !== 0) throw Object.assign(new Error('unmapped buffer still has a length'), { code: 'INVARIANT' })
          break
        }
        case 'view': {
          const v = at(maps, a)
          if (v) {
            const w = v.view(b, c)
            if (readable.has(v) && w.byteLength > 0) void new Uint8Array(w)[w.byteLength - 1]
          }
          break
        }
        case 'touch': {
          const v = at(maps, a)
          if (v && v.mapped && readable.has(v)) void new Uint8Array(v.view(b % v.length, 1))[0]
          break
        }
        case 'big':
          if (b) {
            track(Mapping.anonymous(a, { protection: 'none' }), 'none')
          } else {
            const m = Memfd.create('fuzz-big', { size: a })
            memfds.push(m)
            track(m.map(), 'r')
          }
          break
        case 'reuse': {
          const m = at(memfds, a)
          if (m && !m.closed && !others.some((o) => o.memfd === m)) {
            const fd = m.fd
            closeSync(fd)
            const other = openSync(OTHER, 'r')
            const { dev, ino } = fstatSync(other)
            others.push({ memfd: m, fd: other, dev, ino })
          }
          break
        }
      }
      label += ':ok'
    } catch (err) {
      label += `:${err && err.code}`
      if (!typed(err)) {
        unexpected++
        if (unexpected <= 10)
          console.error(
            `untyped outcome of ${op}(${[a, b, c, d]
              .map((x) => {
                try {
                  return JSON.stringify(x)?.slice(0, 60)
                } catch {
                  return String(x)
                }
              })
              .join(', ')}):`,
            err,
          )
      }
    }
    outcomes.set(label, (outcomes.get(label) ?? 0) + 1)
  }
  for (const v of maps) {
    try {
      v.unmap()
    } catch (err) {
      if (err.code !== 'EPERM' || !v.sealed) throw err // only a sealed mapping may refuse
      sealedLeft++
      sealedKept.push(v) // kept, so that the live count at the end is exactly the sealed ones
    }
  }
  for (const m of memfds) m.close()
  // The files that took over a closed memfd's number are still open and still theirs: untouched.
  for (const o of others) {
    const { dev, ino } = fstatSync(o.fd)
    if (dev !== o.dev || ino !== o.ino) throw Object.assign(new Error('a reused descriptor was closed or replaced by memseal'), { code: 'INVARIANT' })
    closeSync(o.fd)
  }
}

// A worker of the last phase: runs random sequences until it is terminated.
if (!isMainThread) {
  parentPort.postMessage('started')
  for (let i = 0; ; i++) {
    for (const seq of fc.sample(fc.array(call, { minLength: 1, maxLength: OPS_PER_RUN }), { numRuns: 10, seed: workerData.seed + i })) {
      try {
        runSequence(seq)
      } catch {
        // an invariant broken in a worker is reported by the main phase's own checks
      }
    }
  }
}

const fds = () => readdirSync('/proc/self/fd').length
const fdTargets = () =>
  readdirSync('/proc/self/fd').map((fd) => {
    try {
      return require('node:fs').readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      return '?'
    }
  })

// Worker threads running the same sequences, terminated at random moments: every one must end without
// taking the process down, and leave no descriptor behind (their environments' teardown closes them).
async function terminatedWorker(workerSeed) {
  const worker = new Worker(__filename, { workerData: { seed: workerSeed }, argv: [], trackUnmanagedFds: false })
  const exited = new Promise((resolve) => worker.on('exit', resolve))
  worker.on('error', () => undefined)
  await new Promise((resolve) => worker.once('message', resolve))
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 30))
  await worker.terminate()
  await exited
}

async function workerPhase() {
  const survived = { rounds: 0 }
  for (let i = 0; i < workerRounds; i++) {
    await terminatedWorker(seed + i)
    survived.rounds++
  }
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  return survived
}

;(async () => {
  // The first worker thread makes Node open a descriptor of its own for good (/dev/null, when stdout is a
  // pipe): let it do so before counting.
  if (workerRounds > 0) await terminatedWorker(seed - 1)
  kernel.features() // probe once up front so its fds are not counted as the fuzzer's
  void process.stderr.isTTY // libuv opens the terminal again for a TTY stream: let it do so before counting
  const startTargets = fdTargets()
  const startFds = fds()
  const startLive = native.liveMappings()
  const started = Date.now()
  let lastReport = 0
  let round = 0
  while (calls < targetCalls) {
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: OPS_PER_RUN, size: 'max' }), (seq) => {
        const before = fds()
        runSequence(seq)
        if (fds() !== before) {
          console.error('fd leak after sequence:', JSON.stringify(seq.map((c) => c[0])))
          return false
        }
        if (process.stderr.isTTY && Date.now() - lastReport > 500) {
          lastReport = Date.now()
          process.stderr.write(`\rfuzz: ${calls} calls`)
        }
        return true
      }),
      { numRuns: 200, seed: seed + round++, endOnFailure: true },
    )
  }
  if (process.stderr.isTTY) process.stderr.write('\n')
  const workers = workerRounds > 0 ? await workerPhase() : { rounds: 0 }
  // sealed mappings stay (mseal), and the pool's others were unmapped, so only sealed ones may be live
  const summary = {
    seed,
    calls,
    unexpected,
    fdLeak: fds() - startFds,
    // mseal'd mappings cannot be unmapped (they stay until exit); every other one must be gone
    liveMappings: native.liveMappings() - startLive,
    sealedLeft,
    seconds: (Date.now() - started) / 1000,
    workersTerminated: workers.rounds,
    distinctOutcomes: outcomes.size,
    top: [...outcomes.entries()].sort((x, y) => y[1] - x[1]).slice(0, 12),
  }
  if (summary.fdLeak) {
    const left = [...startTargets]
    summary.newFds = fdTargets().filter((t) => {
      const i = left.indexOf(t)
      if (i < 0) return true
      left.splice(i, 1)
      return false
    })
  }
  console.log(JSON.stringify(summary))
  process.exit(unexpected === 0 && summary.fdLeak === 0 && summary.liveMappings === sealedLeft ? 0 : 1)
})()
