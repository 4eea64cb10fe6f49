'use strict'
// The receiving process. The parent drives it over the IPC channel; the data itself comes over:
//   memseal  a sealed memfd received on fd 3 (a socketpair end), verified, mapped read-only; the answer
//            also says when the view was in hand (process.hrtime: the monotonic clock). Memfds sent on fd 4
//            are received the same way into one ReceiveWindow, made once (the "memseal window" rows)
//   pipe     the child's stdin (a Node 'pipe' stdio, which libuv makes an AF_UNIX socketpair)
//   devshm   a file in /dev/shm, named in the IPC message, read into a buffer
// After reading every byte it answers { sum }.
const { closeSync, openSync, readSync } = require('node:fs')
const { FdChannel } = require('../../dist/fdpass')
const { receiveShared } = require('../../dist/share')
const { ReceiveWindow } = require('../../dist/window')
const { sum } = require('./data')

const buffers = new Map() // one receive buffer per size, reused across rounds
const bufferOf = (size) => {
  if (!buffers.has(size)) buffers.set(size, Buffer.allocUnsafe(size))
  return buffers.get(size)
}

let channel
async function memseal() {
  channel ??= FdChannel.adopt(3)
  for (;;) {
    const { mapping } = await receiveShared(channel, { maxSize: 1 << 30 })
    const buffer = mapping.buffer
    const viewNs = Number(process.hrtime.bigint()) // a readable view in hand, nothing read yet
    process.send({ sum: sum(buffer), viewNs })
    mapping.unmap() // clean-up after the answer, as the other methods keep their buffer
  }
}

async function memsealWindow(capacity) {
  const windowChannel = FdChannel.adopt(4)
  const window = ReceiveWindow.create(capacity)
  for (;;) {
    const { bytes } = await window.receive(windowChannel, { maxSize: 1 << 30 })
    const viewNs = Number(process.hrtime.bigint()) // a readable view in hand, nothing read yet
    process.send({ sum: sum(bytes), viewNs })
    window.clear() // the file's pages released after the answer, as the other methods keep their buffer
  }
}

let pipeTarget // { buffer, filled }
process.stdin.on('data', (chunk) => {
  const t = pipeTarget
  chunk.copy(t.buffer, t.filled)
  t.filled += chunk.length
  if (t.filled === t.buffer.length) {
    pipeTarget = undefined
    process.send({ sum: sum(t.buffer) })
  }
})

process.on('message', (msg) => {
  if (msg.mode === 'memseal') {
    memseal().catch((err) => process.send({ error: err.code || String(err) }))
    memsealWindow(msg.windowCapacity).catch((err) => process.send({ error: err.code || String(err) }))
    process.send({ ready: true })
  } else if (msg.mode === 'pipe') {
    pipeTarget = { buffer: bufferOf(msg.size), filled: 0 }
    process.send({ ready: true })
  } else if (msg.mode === 'devshm') {
    const buffer = bufferOf(msg.size)
    const fd = openSync(msg.path, 'r')
    let done = 0
    while (done < msg.size) done += readSync(fd, buffer, done, msg.size - done, done)
    closeSync(fd)
    process.send({ sum: sum(buffer) })
  } else if (msg.mode === 'exit') {
    process.exit(0)
  }
})
