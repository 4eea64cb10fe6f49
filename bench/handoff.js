'use strict'
// Hand-off benchmark: a parent gives 1 MiB, 64 MiB and 256 MiB to a child process that reads every byte.
//
//   memseal        the producer filled a memfd in place; timed: seal + send the fd over a socketpair +
//                  the child verifies (memfd, seals, size), maps read-only and reads every byte
//   memseal+copy   the same, starting from a Buffer: share() copies it into a new memfd first
//   pipe           write the Buffer to the child's stdin; the child collects and reads it
//   worker         postMessage(Buffer) to a worker thread (structured clone: a copy); it reads it
//   /dev/shm       write the Buffer to a file in /dev/shm; the child reads the file and the bytes
//
// Each round ends when the receiver has answered with the sum of what it read, checked here. Medians
// over the rounds; ratios are pipe median / method median. Prints a table and writes
// bench/out/handoff.json. Needs the compiled package (npm run compile). Usage: node bench/handoff.js [--quick]
const { fork } = require('node:child_process')
const { closeSync, mkdirSync, openSync, unlinkSync, writeFileSync, writeSync } = require('node:fs')
const { join } = require('node:path')
const { Worker } = require('node:worker_threads')
const { FdChannel } = require('../dist/fdpass')
const { Memfd } = require('../dist/memfd')
const { sealForSharing, sendShared, share } = require('../dist/share')
const { expectedSum, fill } = require('./handoff/data')

const MiB = 1 << 20
const quick = process.argv.includes('--quick')
const PLAN = quick
  ? [{ size: 1 * MiB, rounds: 5 }, { size: 64 * MiB, rounds: 3 }, { size: 256 * MiB, rounds: 3 }]
  : [{ size: 1 * MiB, rounds: 21 }, { size: 64 * MiB, rounds: 9 }, { size: 256 * MiB, rounds: 7 }]
const WARMUP = 2
const SHM = `/dev/shm/memseal-bench-${process.pid}`

const now = () => Number(process.hrtime.bigint()) / 1e6
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// The child process and a promise for its next IPC answer.
function startChild(channelEnd) {
  const child = fork(join(__dirname, 'handoff', 'child.js'), [], { stdio: ['pipe', 'inherit', 'inherit', channelEnd, 'ipc'] })
  const answers = []
  const waiting = []
  child.on('message', (m) => (waiting.length ? waiting.shift()(m) : answers.push(m)))
  const next = () => new Promise((resolve) => (answers.length ? resolve(answers.shift()) : waiting.push(resolve)))
  return { child, next }
}

function check(answer, size) {
  if (answer.error || answer.sum !== expectedSum(size)) throw new Error(`receiver answered ${JSON.stringify(answer)} for ${size} bytes`)
}

// One method = a setup, then `round(size, data)` resolving with the timed milliseconds.
function methods(ctx) {
  return {
    memseal: async (size) => {
      const memfd = Memfd.create('bench', { exec: false, size })
      const writable = memfd.map({ protection: 'rw' })
      fill(new Uint8Array(writable.buffer)) // the producer's own work, in place: not timed
      writable.unmap()
      const t0 = now()
      sealForSharing(memfd)
      await sendShared(ctx.channel, memfd, { size })
      const answer = await ctx.proc.next()
      const t = now() - t0
      memfd.close()
      check(answer, size)
      return t
    },
    'memseal+copy': async (size, data) => {
      const t0 = now()
      const memfd = share(data, { name: 'bench' })
      await sendShared(ctx.channel, memfd, { size })
      const answer = await ctx.proc.next()
      const t = now() - t0
      memfd.close()
      check(answer, size)
      return t
    },
    pipe: async (size, data) => {
      ctx.proc.child.send({ mode: 'pipe', size })
      await ctx.proc.next() // ready
      const t0 = now()
      ctx.proc.child.stdin.write(data)
      const answer = await ctx.proc.next()
      const t = now() - t0
      check(answer, size)
      return t
    },
    worker: async (size, data) => {
      const t0 = now()
      ctx.worker.postMessage(data)
      const answer = await new Promise((resolve) => ctx.worker.once('message', resolve))
      const t = now() - t0
      check(answer, size)
      return t
    },
    '/dev/shm': async (size, data) => {
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
  }
}

async function main() {
  const [mine, theirs] = FdChannel.socketpair()
  const proc = startChild(theirs)
  closeSync(theirs)
  const channel = FdChannel.adopt(mine)
  proc.child.send({ mode: 'memseal' })
  await proc.next()
  const worker = new Worker(join(__dirname, 'handoff', 'worker.js'))
  const run = methods({ channel, proc, worker })
  const results = []
  const started = now()
  for (const { size, rounds } of PLAN) {
    const data = fill(Buffer.alloc(size))
    for (const [method, round] of Object.entries(run)) {
      const times = []
      for (let i = 0; i < WARMUP + rounds; i++) {
        const t = await round(size, data)
        if (i >= WARMUP) times.push(t)
      }
      results.push({ sizeMiB: size / MiB, method, rounds, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times) })
    }
  }
  proc.child.send({ mode: 'exit' })
  channel.close()
  await worker.terminate()

  for (const r of results) {
    const pipe = results.find((p) => p.sizeMiB === r.sizeMiB && p.method === 'pipe')
    r.vsPipe = pipe.medianMs / r.medianMs
    r.gbPerS = (r.sizeMiB * MiB) / (r.medianMs / 1000) / 1e9
  }
  const header = '| size | method | median ms | min–max ms | GB/s | vs pipe |'
  const rule = '|---:|---|---:|---:|---:|---:|'
  const lines = results.map((r) =>
    `| ${r.sizeMiB} MiB | ${r.method} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)}–${r.maxMs.toFixed(2)} | ${r.gbPerS.toFixed(2)} | ${r.vsPipe.toFixed(1)}× |`,
  )
  console.log([header, rule, ...lines].join('\n'))
  const total = (now() - started) / 1000
  console.log(`\n${results.length} cells, medians of ${PLAN.map((p) => p.rounds).join('/')} rounds after ${WARMUP} warm-up rounds; ${total.toFixed(1)} s; node ${process.version}`)
  const out = join(__dirname, 'out')
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'handoff.json'), `${JSON.stringify({ node: process.version, kernel: require('node:os').release(), plan: PLAN, warmup: WARMUP, results }, null, 2)}\n`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
