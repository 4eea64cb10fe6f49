#!/usr/bin/env node
'use strict'
/**
 * memseal against C, side by side in one run (npm run bench).
 *
 * Compiles bench/c/*.c with `cc -O2` into bench/bin/, then for every scenario in bench/scenarios/ runs the
 * C baseline and the memseal side alternately (C first in even rounds, memseal first in odd ones) for a
 * discarded warm-up round and --rounds measured rounds, with the same iteration counts on both sides.
 * Prints progress on stderr, the table of medians (ns per operation) and ratios memseal / C on stdout, and
 * writes the same as JSON to bench/out/results.json.
 *
 * In the same rounds it times the Node-API floor: an empty call into the addon (its `noop` export, there
 * for this only), and it counts, once per scenario in a child process, the addon calls an operation makes.
 * The table then splits each scenario's cost above C into the floor those calls pay and the rest.
 *
 *   node bench/run.js [--rounds N] [--only id,id] [--strace] [--c-threads N] [--no-handoff] [--reserve-hugepages]
 *
 * Then it runs the hand-off benchmark (bench/handoff.js, at least --rounds rounds per size): the whole
 * hand-off against a pipe, a worker, /dev/shm and C, and the time to a readable view against C.
 * --reserve-hugepages is passed on to it (as root: the hugetlb pool is raised for that run, then restored).
 *
 * --strace runs each side once more under `strace -f -c` and lists the system calls per operation that
 * memseal makes beyond the C baseline. --c-threads N starts N idle threads in each C baseline (default 1):
 * Node is always multi-threaded, and the kernel takes slower paths for some calls in multi-threaded
 * processes (the fd lookup takes a reference), so C with one idle thread is the fair floor; 0 shows the
 * single-threaded figures.
 */
const { execFileSync, spawnSync } = require('node:child_process')
const { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } = require('node:fs')
const { cpus, release } = require('node:os')
const { join, relative } = require('node:path')

const ROOT = join(__dirname, '..')
const C_DIR = join(__dirname, 'c')
const BIN_DIR = join(__dirname, 'bin')
const OUT_DIR = join(__dirname, 'out')
const SCENARIO_DIR = join(__dirname, 'scenarios')

function parseArgs(argv) {
  const args = { rounds: 9, only: null, strace: false, cThreads: 1, handoff: true, reserveHugepages: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--rounds') args.rounds = Number(argv[++i])
    else if (a === '--only') args.only = argv[++i].split(',')
    else if (a === '--strace') args.strace = true
    else if (a === '--c-threads') args.cThreads = Number(argv[++i])
    else if (a === '--no-handoff') args.handoff = false
    else if (a === '--reserve-hugepages') args.reserveHugepages = true
    else {
      process.stderr.write(
        `unknown argument ${a}\nusage: node bench/run.js [--rounds N] [--only id,id] [--strace] [--c-threads N] [--no-handoff] [--reserve-hugepages]\n`,
      )
      process.exit(2)
    }
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 1 || !Number.isInteger(args.cThreads) || args.cThreads < 0) {
    process.stderr.write('--rounds must be a positive integer, --c-threads a non-negative one\n')
    process.exit(2)
  }
  process.env.MEMSEAL_BENCH_C_THREADS = String(args.cThreads) // read by bench/c/bench.h
  return args
}

const log = (line) => process.stderr.write(`${line}\n`)

function compileBaselines() {
  mkdirSync(BIN_DIR, { recursive: true })
  for (const file of readdirSync(C_DIR).filter((f) => f.endsWith('.c'))) {
    const out = join(BIN_DIR, file.slice(0, -2))
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', out, join(C_DIR, file)], { stdio: ['ignore', 'inherit', 'inherit'] })
  }
}

function loadScenarios(only) {
  const files = readdirSync(SCENARIO_DIR)
    .filter((f) => /^\d\d[a-z]?-.*\.js$/.test(f))
    .sort()
  const all = files.map((f) => Object.assign({ file: join(SCENARIO_DIR, f) }, require(join(SCENARIO_DIR, f))))
  return only ? all.filter((s) => only.includes(s.id)) : all
}

/** A C baseline prints "<wall ns per op> <cpu ns per op> [check value]". */
function runC(s, iterations, warmup) {
  const out = execFileSync(join(BIN_DIR, s.c), [String(iterations), String(warmup), ...(s.cArgs ?? [])], { encoding: 'utf8' })
  const [ns, cpuNs, check] = out.trim().split(/\s+/).map(Number)
  return { ns, cpuNs, check }
}

/** A scenario's measure() returns { ns, cpuNs, check? } per operation (scenarios/clock.js). */
function runJs(s, iterations, warmup) {
  if (!s.isolate) return s.measure(iterations, warmup)
  const r = spawnSync(process.execPath, [join(SCENARIO_DIR, 'child.js'), s.file, String(iterations), String(warmup)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${s.id}: child exited ${r.status ?? r.signal}: ${r.stderr.trim()}`)
  return JSON.parse(r.stdout)
}

/** Node-API calls per operation of a scenario, counted in a child process (the wrappers would slow this one). */
function countCalls(s) {
  const n = Math.max(1, Math.min(s.iterations, 200))
  const r = spawnSync(process.execPath, [join(SCENARIO_DIR, 'child.js'), s.file, String(n), '0'], {
    encoding: 'utf8',
    env: { ...process.env, MEMSEAL_BENCH_COUNT_CALLS: '1' },
  })
  if (r.status !== 0) throw new Error(`${s.id}: counting child exited ${r.status ?? r.signal}: ${r.stderr.trim()}`)
  return JSON.parse(r.stdout).nativeCalls / n
}

/** The Node-API floor: ns per empty call into the addon, timed in this process like the scenarios. */
const FLOOR_ITERATIONS = 2_000_000
function measureFloor() {
  const { native } = require(join(ROOT, 'dist', 'native'))
  const noop = native.noop
  for (let i = 0; i < FLOOR_ITERATIONS / 10; i++) noop()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < FLOOR_ITERATIONS; i++) noop()
  return Number(process.hrtime.bigint() - t0) / FLOOR_ITERATIONS
}

function median(values) {
  const v = [...values].sort((a, b) => a - b)
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e4 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(0)} ns`)

function measureScenario(s, rounds, index, count, floorSamples) {
  const iterations = s.iterations
  const warmup = s.warmup ?? Math.ceil(iterations / 10)
  const samples = { c: [], memseal: [], cCpu: [], memsealCpu: [] }
  const nativeCalls = countCalls(s)
  s.setup?.()
  try {
    for (let round = 0; round <= rounds; round++) {
      const order = round % 2 === 0 ? ['c', 'memseal'] : ['memseal', 'c']
      const got = {}
      for (const side of order) {
        got[side] = side === 'c' ? runC(s, iterations, warmup) : runJs(s, iterations, warmup)
      }
      if (got.c.check !== undefined && got.memseal.check !== undefined && got.c.check !== got.memseal.check) {
        throw new Error(`${s.id}: C and memseal read different data (${got.c.check} vs ${got.memseal.check})`)
      }
      const label = round === 0 ? 'warm-up' : `round ${round}/${rounds}`
      log(`[${index}/${count}] ${s.id} ${label}: C ${fmt(got.c.ns)}, memseal ${fmt(got.memseal.ns)}`)
      if (round === 0) continue
      floorSamples.push(measureFloor()) // the floor, in every round of every scenario: it drifts with them
      samples.c.push(got.c.ns)
      samples.memseal.push(got.memseal.ns)
      samples.cCpu.push(got.c.cpuNs)
      samples.memsealCpu.push(got.memseal.cpuNs)
    }
  } finally {
    s.teardown?.()
  }
  const c = median(samples.c)
  const memseal = median(samples.memseal)
  const cCpu = median(samples.cCpu)
  const memsealCpu = median(samples.memsealCpu)
  const ratio = memseal / c
  return {
    id: s.id,
    title: s.title,
    iterations,
    warmup,
    c: { medianNs: c, medianCpuNs: cCpu, samplesNs: samples.c, samplesCpuNs: samples.cCpu },
    memseal: { medianNs: memseal, medianCpuNs: memsealCpu, samplesNs: samples.memseal, samplesCpuNs: samples.memsealCpu },
    ratio,
    cpuRatio: memsealCpu / cCpu,
    aboveCNs: memseal - c,
    nativeCalls,
    target: s.target ?? null,
    met: s.target ? ratio <= s.target : null,
  }
}

function measureSuite(s) {
  const unavailable = s.available()
  if (unavailable) {
    log(`[suite] ${s.id}: not available yet (${unavailable})`)
    return { id: s.id, title: s.title, available: false, reason: unavailable }
  }
  const runs = []
  for (let i = 0; i < s.runs; i++) {
    const r = s.run()
    log(`[suite] ${s.id} run ${i + 1}/${s.runs}: ${r.wallMs.toFixed(0)} ms${r.error ? ` (${r.error})` : ''}`)
    if (r.error) return { id: s.id, title: s.title, available: false, reason: r.error }
    runs.push(r)
  }
  const results = runs.map((r) => r.report.results ?? [])
  const clauses = new Map()
  for (const list of results) {
    for (const c of list) {
      if (!clauses.has(c.id)) clauses.set(c.id, { id: c.id, area: c.area, status: c.status, durationsMs: [] })
      clauses.get(c.id).durationsMs.push(Number(c.durationMs) || 0)
    }
  }
  const perClause = [...clauses.values()].map((c) => ({ id: c.id, area: c.area, status: c.status, medianMs: median(c.durationsMs) }))
  perClause.sort((a, b) => b.medianMs - a.medianMs)
  const areas = {}
  for (const c of perClause) areas[c.area] = (areas[c.area] ?? 0) + c.medianMs
  return {
    id: s.id,
    title: s.title,
    available: true,
    runs: runs.length,
    wallMs: median(runs.map((r) => r.wallMs)),
    reportedMs: median(runs.map((r) => Number(r.report.summary?.durationMs) || 0)),
    clauses: perClause.length,
    clauseMedianMs: median(perClause.map((c) => c.medianMs)),
    areasMs: areas,
    perClause,
  }
}

/** Calls per syscall name from `strace -f -c` output. */
function parseStrace(text) {
  const calls = {}
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line)
    if (m && m[2] !== 'total') calls[m[2]] = Number(m[1])
  }
  return calls
}

function straceCounts(argv) {
  const file = join(OUT_DIR, 'strace.tmp')
  const r = spawnSync('strace', ['-f', '-c', '-o', file, ...argv], { encoding: 'utf8' })
  if (r.error) throw r.error
  return parseStrace(readFileSync(file, 'utf8'))
}

/**
 * System calls per operation on each side: counts for 2n operations minus counts for n, divided by n,
 * so that process start-up (node's especially) cancels out.
 */
function straceScenario(s) {
  const n = s.straceIterations ?? Math.max(1, Math.min(s.iterations, 2000))
  const cSide = (k) => straceCounts([join(BIN_DIR, s.c), String(k), '0', ...(s.cArgs ?? [])])
  const jsSide = (k) => straceCounts([process.execPath, join(SCENARIO_DIR, 'child.js'), s.file, String(k), '0'])
  const perOp = (a, b) => {
    const out = {}
    for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const v = ((b[name] ?? 0) - (a[name] ?? 0)) / n
      if (Math.abs(v) >= 0.01) out[name] = Math.round(v * 100) / 100
    }
    return out
  }
  const c = perOp(cSide(n), cSide(2 * n))
  const memseal = perOp(jsSide(n), jsSide(2 * n))
  const extra = {}
  for (const [name, v] of Object.entries(memseal)) {
    const d = Math.round((v - (c[name] ?? 0)) * 100) / 100
    if (d >= 0.05) extra[name] = d
  }
  return { id: s.id, iterations: n, c, memseal, extra, note: s.straceNote ?? null }
}

/** The 1, 5 and 15 minute load averages, as uptime(1) shows them. */
function loadAverages() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number)
}

function machine() {
  let ccVersion = ''
  try {
    ccVersion = execFileSync('cc', ['--version'], { encoding: 'utf8' }).split('\n')[0]
  } catch {
    // no C compiler: the table says so with an empty version
  }
  return { kernel: release(), cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, node: process.version, cc: ccVersion }
}

function printTable(rows, floorNs) {
  const head = ['scenario', 'C ns/op', 'memseal ns/op', 'memseal/C', 'target', 'above C', 'calls', 'floor', 'rest', 'CPU ns/op C', 'memseal', 'CPU ratio']
  const body = rows.map((r) => [
    r.id,
    r.c.medianNs.toFixed(0),
    r.memseal.medianNs.toFixed(0),
    r.ratio.toFixed(2),
    r.target ? `≤ ${r.target} ${r.met ? 'ok' : 'MISSED'}` : '',
    r.aboveCNs.toFixed(0),
    r.nativeCalls.toFixed(r.nativeCalls % 1 ? 2 : 0),
    (r.nativeCalls * floorNs).toFixed(0),
    (r.aboveCNs - r.nativeCalls * floorNs).toFixed(0),
    r.c.medianCpuNs.toFixed(0),
    r.memseal.medianCpuNs.toFixed(0),
    r.cpuRatio.toFixed(2),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  process.stdout.write(`${line(head)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${body.map(line).join('\n')}\n`)
  process.stdout.write(
    `\nNode-API floor: ${floorNs.toFixed(1)} ns per empty call (median). "above C": memseal − C per operation; "calls": ` +
      `addon calls per operation; "floor": calls × floor; "rest": above C − floor (memseal's own code, node:fs, V8).\n`,
  )
}

function printSuite(suite) {
  if (!suite) return
  if (!suite.available) {
    process.stdout.write(`\nconformance suite: not available yet (${suite.reason})\n`)
    return
  }
  process.stdout.write(
    `\nconformance suite: ${suite.clauses} clauses, wall ${suite.wallMs.toFixed(0)} ms (median of ${suite.runs}), ` +
      `report ${suite.reportedMs.toFixed(0)} ms, median clause ${suite.clauseMedianMs.toFixed(2)} ms\n`,
  )
  process.stdout.write(
    `  per area (ms): ${Object.entries(suite.areasMs)
      .map(([a, ms]) => `${a} ${ms.toFixed(1)}`)
      .join(', ')}\n`,
  )
  process.stdout.write('  slowest clauses:\n')
  for (const c of suite.perClause.slice(0, 8)) process.stdout.write(`    ${c.medianMs.toFixed(2).padStart(8)} ms  ${c.id} (${c.status})\n`)
}

function printStrace(list) {
  if (list.length === 0) return
  process.stdout.write('\nsystem calls per operation (strace -f -c; 2n minus n operations):\n')
  for (const s of list) {
    const show = (o) =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-'
    process.stdout.write(`  ${s.id}\n    C:       ${show(s.c)}\n    memseal: ${show(s.memseal)}\n    extra:   ${show(s.extra)}\n`)
    if (s.note) process.stdout.write(`    note:    ${s.note}\n`)
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  const started = process.hrtime.bigint()
  const loadAtStart = loadAverages()
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    log('dist/ is missing: run `npm run build` (and build the addon) first')
    process.exit(1)
  }
  log('compiling C baselines with cc -O2 …')
  compileBaselines()
  mkdirSync(OUT_DIR, { recursive: true })
  const scenarios = loadScenarios(args.only)
  const paired = scenarios.filter((s) => !s.suite)
  const rows = []
  const floorSamples = []
  paired.forEach((s, i) => rows.push(measureScenario(s, args.rounds, i + 1, paired.length, floorSamples)))
  const floorNs = median(floorSamples.length ? floorSamples : [measureFloor()])
  const suiteScenario = scenarios.find((s) => s.suite)
  const suite = suiteScenario ? measureSuite(suiteScenario) : null
  const strace = []
  if (args.strace) {
    for (const s of paired) {
      log(`[strace] ${s.id}`)
      strace.push(straceScenario(s))
    }
  }
  process.stdout.write(`load averages at the start: ${loadAtStart.join(', ')}; C baselines with ${args.cThreads} idle thread(s)\n\n`)
  printTable(rows, floorNs)
  printSuite(suite)
  printStrace(strace)
  let handoff = null
  if (args.handoff && !args.only) {
    // The hand-off table, in the same run; its own JSON goes to bench/out/handoff.json.
    process.stdout.write('\nhand-off (bench/handoff.js):\n')
    const argv = [join(__dirname, 'handoff.js'), '--rounds', String(Math.max(9, args.rounds)), ...(args.reserveHugepages ? ['--reserve-hugepages'] : [])]
    const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'inherit', 'inherit'] })
    handoff = r.status === 0 ? 'bench/out/handoff.json' : `failed: exit ${r.status ?? r.signal}`
  }
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9
  const results = {
    date: new Date().toISOString(),
    machine: machine(),
    rounds: args.rounds,
    cThreads: args.cThreads,
    load: { start: loadAtStart, end: loadAverages() },
    nodeApiFloorNs: floorNs,
    elapsedS,
    scenarios: rows,
    conformance: suite,
    strace,
    handoff,
  }
  const out = join(OUT_DIR, 'results.json')
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  log(`done in ${elapsedS.toFixed(1)} s; wrote ${relative(process.cwd(), out)}`)
}

main()
