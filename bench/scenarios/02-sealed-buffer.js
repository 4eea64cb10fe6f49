'use strict'
// Scenario 2: the life of a sealed buffer through the public API: create, resize, write 4 KiB, add
// seals, map read-only, read the 4 KiB back through a Uint8Array over the mapping, unmap, close.
const { Memfd } = require('../..')
const { timePerOp } = require('./clock')

const SIZE = 4096
const data = Uint8Array.from({ length: SIZE }, (_, i) => i & 0xff)

function once() {
  const memfd = Memfd.create('memseal')
  memfd.resize(SIZE)
  memfd.write(data)
  memfd.addSeals(['shrink', 'grow', 'write'])
  const view = memfd.map({ protection: 'r' })
  // Buffer.compare is memcmp, as in the C baseline; it reads the pages through the Uint8Array.
  const same = Buffer.compare(new Uint8Array(view.buffer), data) === 0
  view.unmap()
  memfd.close()
  if (!same) throw new Error('sealed-buffer: read back the wrong bytes')
}

module.exports = {
  once,
  id: 'sealed-buffer',
  title: 'sealed buffer: create → resize → write 4 KiB → seal → map r → read → unmap → close',
  c: 'sealed_buffer',
  target: 1.3,
  iterations: 4000,
  measure(iterations, warmup) {
    return timePerOp(once, iterations, warmup)
  },
}
