'use strict'
// The blocking receiver of the "memseal window sync" rows: a process with nothing to do but consume, which
// waits in ReceiveWindow#receiveSync (poll(2) on the channel, no event loop) for each sealed memfd on fd 3,
// and answers over IPC as child.js does: { sum, viewNs }, the moment the view was in hand. It never yields
// to the event loop; the parent kills it at the end (or it ends when the channel does).
const { FdChannel } = require('../../dist/fdpass')
const { ReceiveWindow } = require('../../dist/window')
const { sum } = require('./data')

const channel = FdChannel.adopt(3)
const window = ReceiveWindow.create(Number(process.argv[2]))
process.send({ ready: true })
for (;;) {
  let bytes
  try {
    ;({ bytes } = window.receiveSync(channel, { maxSize: 1 << 30 }))
  } catch (err) {
    if (err.code === 'ERR_MEMSEAL_CHANNEL_CLOSED') process.exit(0)
    process.send({ error: err.code || String(err) })
    continue
  }
  const viewNs = Number(process.hrtime.bigint()) // a readable view in hand, nothing read yet
  process.send({ sum: sum(bytes), viewNs })
  window.clear() // the file's pages released after the answer, as the other methods keep their buffer
}
