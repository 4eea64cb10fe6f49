'use strict'
// Runs one batch of an isolated scenario in this (child) process and prints its result as JSON:
//   node bench/scenarios/child.js <scenario file> <iterations> <warm-up iterations>
const [file, iterations, warmup] = process.argv.slice(2)
const scenario = require(file)
scenario.setup?.()
const result = scenario.measure(Number(iterations), Number(warmup))
scenario.teardown?.()
process.stdout.write(`${JSON.stringify(result)}\n`)
