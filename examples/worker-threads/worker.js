'use strict'
// Worker: maps the memfd its parent thread owns. borrow: verify and map a duplicate, and leave the
// parent's descriptor open.
const { parentPort, workerData } = require('node:worker_threads')
const { receive } = require('memseal')

const mapping = receive(workerData.fd, { borrow: true, size: workerData.size })
const words = new Uint32Array(mapping.buffer)
let sum = 0
for (let i = 0; i < words.length; i++) sum = (sum + words[i]) >>> 0
parentPort.postMessage({ id: workerData.id, length: mapping.length, sum })
mapping.unmap()
