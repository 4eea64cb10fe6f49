'use strict'
// Scenario 1: Memfd#sealBits (one F_GET_SEALS) in a tight loop: the pure cost of a call into memseal.
const { Memfd } = require('../..')
const { timePerOp } = require('./clock')

let memfd
let sink = 0

module.exports = {
  id: 'seal-bits',
  title: 'sealBits (one F_GET_SEALS)',
  c: 'seal_bits',
  target: 1.2, // against C with one idle thread (the default of --c-threads): the fair floor
  iterations: 300000,
  setup() {
    memfd = Memfd.create('bench')
  },
  measure(iterations, warmup) {
    return timePerOp(
      () => {
        sink += memfd.sealBits
      },
      iterations,
      warmup,
    )
  },
  teardown() {
    memfd.close()
    return sink
  },
}
