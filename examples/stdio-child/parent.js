'use strict'
// Parent: seals a buffer in a memfd and gives it to a child at spawn, as an extra stdio slot (the child
// finds it at fd 3). The header travels in argv. No socket is needed for a one-off hand-off.
const { spawn } = require('node:child_process')
const { join } = require('node:path')
const { share } = require('memseal')

const data = Buffer.alloc(8 << 20)
for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
let sum = 0
for (let i = 0; i < data.length; i++) sum = (sum + data[i]) >>> 0

const memfd = share(data, { name: 'stdio-example' })
const header = JSON.stringify({ size: data.length, sum })
const child = spawn(process.execPath, [join(__dirname, 'child.js'), header], { stdio: ['inherit', 'inherit', 'inherit', memfd.fd] })
memfd.close() // the child has its own descriptor now
child.on('exit', (code, signal) => {
  console.log(`child exited with ${signal || code}`)
  process.exitCode = code === 0 ? 0 : 1
})
