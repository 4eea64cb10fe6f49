'use strict'
// The worker_threads comparison: the parent posts a Buffer (structured clone: a copy), the worker reads
// every byte and answers { sum }.
const { parentPort } = require('node:worker_threads')
const { sum } = require('./data')

parentPort.on('message', (bytes) => parentPort.postMessage({ sum: sum(bytes) }))
