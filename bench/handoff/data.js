'use strict'
// The bytes handed off and how the receiving side reads them. Every 8-byte word is a small integer as a
// double, so summing the words as doubles reads every byte at memory speed and yields an exact,
// checkable total (a per-byte loop in JavaScript would measure the loop, not the hand-off).

/** Fills `bytes` (length a multiple of 8) with the benchmark pattern. */
function fill(bytes) {
  const words = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
  for (let i = 0; i < words.length; i++) words[i] = i % 251
  return bytes
}

/** Reads every byte of `buffer` (an ArrayBuffer or a view, length a multiple of 8). */
function sum(buffer) {
  const words = ArrayBuffer.isView(buffer)
    ? new Float64Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 8)
    : new Float64Array(buffer)
  let s = 0
  for (let i = 0; i < words.length; i++) s += words[i]
  return s
}

/** The sum of a pattern of `size` bytes, without building it. */
function expectedSum(size) {
  const n = size / 8
  const full = Math.floor(n / 251)
  const rest = n % 251
  return full * ((250 * 251) / 2) + ((rest - 1) * rest) / 2
}

module.exports = { fill, sum, expectedSum }
