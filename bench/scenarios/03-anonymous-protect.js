'use strict'
// Scenario 3: Mapping.anonymous (64 KiB, read-write, private), protect('r'), unmap.
const { Mapping } = require('../..')
const { timePerOp } = require('./clock')

const SIZE = 64 * 1024

function once() {
  const view = Mapping.anonymous(SIZE, { protection: 'rw' })
  view.protect('r')
  view.unmap()
}

module.exports = {
  id: 'anonymous-protect',
  title: 'Mapping.anonymous 64 KiB + protect(r) + unmap',
  c: 'anon_protect',
  target: 1.3,
  iterations: 10000,
  measure(iterations, warmup) {
    return timePerOp(once, iterations, warmup)
  },
}
