'use strict'
// Scenario 7: Memfd#write of 16 bytes. Every write first checks (fstat) that the descriptor is still this
// memfd, so that a number closed behind memseal's back and reused by another file is never written; the
// C baseline here is the bare pwrite(2), scenario 7b adds the same fstat to it.
const { Memfd } = require('../..')
const { timePerOp } = require('./clock')

const payload = Buffer.from('0123456789abcdef')
let memfd

function once() {
  memfd.write(payload)
}

module.exports = {
  id: 'checked-write',
  title: 'write 16 bytes (pwrite), the identity check included',
  c: 'checked_write',
  iterations: 200000,
  once,
  setup() {
    memfd = Memfd.create('bench')
  },
  measure(iterations, warmup) {
    return timePerOp(once, iterations, warmup)
  },
  teardown() {
    memfd.close()
  },
}
