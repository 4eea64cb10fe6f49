'use strict'
// Producer: fills buffers, seals each one in a memfd (share), and sends the descriptor with a JSON
// header to the consumer. Once a memfd is sealed nobody, the producer included, can change or shrink it.
const { FdChannel, share, sendShared } = require('memseal')
const { join } = require('node:path')
const { tmpdir } = require('node:os')

const path = process.argv[2] || join(tmpdir(), 'memseal-example.sock')

async function main() {
  const channel = await FdChannel.connect(path)
  for (const [name, size] of [
    ['small', 4096],
    ['medium', 1 << 20],
    ['large', 16 << 20],
  ]) {
    const data = Buffer.alloc(size)
    for (let i = 0; i < size; i++) data[i] = i & 0xff
    const memfd = share(data, { name })
    await sendShared(channel, memfd, { name })
    memfd.close() // the message holds its own reference to the file
    console.log(`sent ${name} (${size} bytes)`)
  }
  const end = share('done')
  await sendShared(channel, end, { done: true })
  end.close()
  channel.close()
}

main().catch((err) => {
  console.error(err.code || '', err.message)
  process.exit(1)
})
