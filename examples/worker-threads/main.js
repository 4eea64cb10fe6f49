'use strict'
// worker_threads: a mapping's ArrayBuffer is external, so postMessage cannot transfer it (listed in the
// transfer list, it is silently copied). Descriptors are process-wide: give the worker the fd number
// and let it map the same memfd itself. Zero copies, whatever the size.
const { Worker } = require('node:worker_threads')
const { join } = require('node:path')
const { share } = require('memseal')

const data = Buffer.alloc(32 << 20, 0x11)
const memfd = share(data, { name: 'worker-example' })

// trackUnmanagedFds: false because the worker closes descriptors that Node's fs did not open (its
// duplicate of the memfd); with tracking on, Node warns about each of them.
const workers = [0, 1].map(
  (id) =>
    new Worker(join(__dirname, 'worker.js'), {
      workerData: { id, fd: memfd.fd, size: data.length },
      trackUnmanagedFds: false,
    }),
)
let pending = workers.length
for (const worker of workers) {
  worker.on('message', (m) => {
    console.log(`worker ${m.id} read ${m.length} bytes in place, sum ${m.sum}`)
    if (--pending === 0) memfd.close() // every worker has mapped and read it
  })
  worker.on('error', (err) => {
    console.error(err)
    process.exitCode = 1
  })
}
