'use strict'
// Child: verifies the memfd its parent put at fd 3 (a memfd, sealed, the announced size) and reads it
// in place. receive() takes the descriptor and closes it; the mapping stays valid until unmap().
const { receive } = require('memseal')

const header = JSON.parse(process.argv[2])
const mapping = receive(3, { size: header.size })
const bytes = new Uint8Array(mapping.buffer)
let sum = 0
for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]) >>> 0
console.log(`child read ${bytes.length} bytes, sum ${sum === header.sum ? 'matches' : 'DIFFERS'}`)
mapping.unmap()
process.exitCode = sum === header.sum ? 0 : 1
