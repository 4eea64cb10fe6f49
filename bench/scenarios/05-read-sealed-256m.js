'use strict'
// Scenario 5: read every byte of a 256 MiB sealed memfd from JavaScript through a typed array over the
// mapping (zero copy). Setup, not timed: create, resize, fill, seal shrink|grow|write. Timed, per
// operation: map read-only, sum every byte, unmap, as the C baseline does.
//
// The sum is computed a word at a time (an Int32Array over the same pages, four words per iteration,
// bytes added in 16-bit lanes): the fast JavaScript idiom for what cc -O2 vectorises in C. It yields the
// same byte sum, which the runner compares with the C side's. Scenario 5b runs the naive loop (one
// Uint8Array element per iteration); 5c reads one byte per page (the page faults alone).
const { Memfd } = require('../..')
const { timePerOp } = require('./clock')

const SIZE = 256 * 1024 * 1024
const CHUNK = 1024 * 1024
const LANES = 0x00ff00ff

let memfd
let sum = 0

function fill() {
  memfd = Memfd.create('bench-256m')
  memfd.resize(SIZE)
  const chunk = Uint8Array.from({ length: CHUNK }, (_, i) => (i * 7 + 3) & 0xff)
  for (let off = 0; off < SIZE; off += CHUNK) memfd.write(chunk, off)
  memfd.addSeals(['shrink', 'grow', 'write'])
}

/** Byte sum mod 2^32 of an Int32Array's bytes: two 16-bit lanes per mask, flushed before they overflow. */
function sumWords(words) {
  let total = 0
  const n = words.length
  for (let start = 0; start < n; start += 128) {
    // 128 words: each 16-bit lane collects at most 128 * 2 bytes of <= 255, i.e. < 65536.
    let even = 0
    let odd = 0
    const end = start + 128 <= n ? start + 128 : n
    let i = start
    for (; i + 3 < end; i += 4) {
      const a = words[i]
      const b = words[i + 1]
      const c = words[i + 2]
      const d = words[i + 3]
      even = (even + (a & LANES) + (b & LANES) + (c & LANES) + (d & LANES)) | 0
      odd = (odd + ((a >>> 8) & LANES) + ((b >>> 8) & LANES) + ((c >>> 8) & LANES) + ((d >>> 8) & LANES)) | 0
    }
    for (; i < end; i++) {
      even = (even + (words[i] & LANES)) | 0
      odd = (odd + ((words[i] >>> 8) & LANES)) | 0
    }
    total = (total + (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16)) | 0
  }
  return total >>> 0
}

function sumBytes(bytes) {
  let total = 0
  for (let i = 0; i < bytes.length; i++) total = (total + bytes[i]) | 0
  return total >>> 0
}

function sumPages(bytes) {
  let total = 0
  for (let i = 0; i < bytes.length; i += 4096) total = (total + bytes[i]) | 0
  return total >>> 0
}

function scenario(id, title, reader, ArrayType, options = {}) {
  return {
    id,
    title,
    c: 'read_sealed_256m',
    cArgs: options.cArgs ?? [],
    target: options.target,
    iterations: 2,
    warmup: 1,
    straceIterations: 6, // V8's own calls (GC, JIT threads) average out over more passes
    setup() {
      fill()
    },
    measure(iterations, warmup) {
      const time = timePerOp(
        () => {
          const view = memfd.map({ protection: 'r' })
          sum = reader(new ArrayType(view.buffer))
          view.unmap()
        },
        iterations,
        warmup,
      )
      return { ...time, check: sum }
    },
    teardown() {
      memfd.close()
      memfd = undefined
    },
  }
}

module.exports = scenario('256m-words', 'read every byte of a 256 MiB sealed mapping (Int32Array words)', sumWords, Int32Array, { target: 1.5 })
module.exports.scenario = scenario
module.exports.sumBytes = sumBytes
module.exports.sumPages = sumPages
