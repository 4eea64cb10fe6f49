'use strict'
// Scenario 2b: scenario 2 against a C baseline that also makes the calls memseal makes by design: six
// fstat(2) (identity of the new fd, then the identity check before resize, write, add seals, map and
// close) and one fstatfs(2) after mmap (is the file on hugetlbfs?): what the rest of memseal costs.
const { once } = require('./02-sealed-buffer')
const { timePerOp } = require('./clock')

module.exports = {
  id: 'sealed-buffer+fstat',
  title: 'scenario 2, C baseline with the same fstat and fstatfs calls',
  c: 'sealed_buffer',
  cArgs: ['fstat'],
  target: 1.2,
  iterations: 4000,
  measure(iterations, warmup) {
    return timePerOp(once, iterations, warmup)
  },
}
