'use strict'
// Scenario 2b: scenario 2 against a C baseline that also makes the three fstat(2) calls memseal makes by
// design (identity of the new fd, size for map() without a length, identity check before close): what the
// rest of memseal costs.
const { once } = require('./02-sealed-buffer')
const { timePerOp } = require('./clock')

module.exports = {
  id: 'sealed-buffer+fstat',
  title: 'scenario 2, C baseline with the same three fstat calls',
  c: 'sealed_buffer',
  cArgs: ['fstat'],
  iterations: 4000,
  measure(iterations, warmup) {
    return timePerOp(once, iterations, warmup)
  },
}
