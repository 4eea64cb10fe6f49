'use strict'
// Consumer: listens on a Unix socket path, and for each sealed buffer a producer sends, verifies it
// (memfd, seals, size) and reads it in place through a read-only mapping. No copy, no trust needed.
//
//   node examples/producer-consumer/consumer.js memseal-example.sock
//   node examples/producer-consumer/producer.js memseal-example.sock
const { FdServer, receiveShared } = require('memseal')
const { join } = require('node:path')
const { tmpdir } = require('node:os')

const path = process.argv[2] || join(tmpdir(), 'memseal-example.sock')

async function main() {
  const server = FdServer.listen(path)
  console.log(`listening on ${path}`)
  const channel = await server.accept()
  server.close() // one producer is enough for this example
  for (;;) {
    const { header, mapping } = await receiveShared(channel, { maxSize: 64 << 20 })
    if (header.done) {
      mapping.unmap()
      break
    }
    const bytes = new Uint8Array(mapping.buffer)
    let sum = 0
    for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]) >>> 0
    console.log(`${header.name}: ${bytes.length} bytes, sum ${sum}`)
    mapping.unmap()
  }
  channel.close()
}

main().catch((err) => {
  console.error(err.code || '', err.message)
  process.exit(1)
})
