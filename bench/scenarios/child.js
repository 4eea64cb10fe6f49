'use strict'
// Runs one batch of an isolated scenario in this (child) process and prints its result as JSON:
//   node bench/scenarios/child.js <scenario file> <iterations> <warm-up iterations>
// With MEMSEAL_BENCH_COUNT_CALLS=1 it counts the calls into the addon instead (every function of its exports
// and of its fdpass surface wrapped before the library loads) and adds { nativeCalls } to the result.
const { join } = require('node:path')

const [file, iterations, warmup] = process.argv.slice(2)
let nativeCalls = 0
if (process.env.MEMSEAL_BENCH_COUNT_CALLS === '1') {
  const { native } = require(join(__dirname, '..', '..', 'dist', 'native'))
  for (const surface of [native, native.fdpass]) {
    for (const [name, fn] of Object.entries(surface)) {
      if (typeof fn !== 'function') continue
      surface[name] = function counted(...args) {
        nativeCalls++
        return fn.apply(this, args)
      }
    }
  }
}
const scenario = require(file)
scenario.setup?.()
const before = nativeCalls
const result = scenario.measure(Number(iterations), Number(warmup))
const calls = nativeCalls - before
scenario.teardown?.()
process.stdout.write(`${JSON.stringify(process.env.MEMSEAL_BENCH_COUNT_CALLS === '1' ? { ...result, nativeCalls: calls } : result)}\n`)
