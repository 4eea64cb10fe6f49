/**
 * worker_threads and shared memfds. A mapping's ArrayBuffer is external: listing it in postMessage's
 * transfer list does not move the pages, it copies them (Node cannot detach an external buffer). The
 * zero-copy way is to hand the worker the descriptor, which is valid on every thread of the process,
 * and let the worker map it itself.
 */
import { fstatSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { FdChannel } from '../lib/fdpass'
import { native } from '../lib/native'
import { receive, sendShared, share } from '../lib/share'
import { FIXTURES, ROOT } from './helpers'

// Descriptors of this process whose /proc link contains `text`. Counted by name rather than in total:
// the descriptors of a worker terminated by an earlier test may still be closing meanwhile.
function openFiles(text: string): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(text)) n++
    } catch {
      // closed while listing
    }
  }
  return n
}
const identity = (fd: number): string => {
  try {
    const s = fstatSync(fd)
    return `${s.dev}:${s.ino}`
  } catch {
    return 'closed'
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

function startWorker(): { ask(msg: unknown, transfer?: ArrayBuffer[]): Promise<Record<string, unknown>>; stop(): Promise<number> } {
  // trackUnmanagedFds: false: the worker closes descriptors Node's fs did not open, which Node would warn about.
  const worker = new Worker(join(FIXTURES, 'share-worker.js'), { env: { ...process.env, MEMSEAL_ROOT: ROOT }, trackUnmanagedFds: false })
  return {
    ask(msg, transfer) {
      return new Promise((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
        worker.postMessage(msg, transfer)
      })
    },
    stop: () => worker.terminate(),
  }
}

const data = Buffer.alloc(3 * 4096 + 5)
for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
const expectedSum = data.reduce((s, b) => (s + b) >>> 0, 0)

describe('worker threads', () => {
  // The transfer list never moves a mapping (its ArrayBuffer is external and not detachable by others): the
  // sender keeps it. Node 18 and 20 send the worker a plain copy; Node 22 refuses the transfer with a
  // DataCloneError. Either way the sender's buffer stays attached and mapped.
  test('"transferring" a mapping ArrayBuffer never moves it: a plain copy there, or a DataCloneError; still mapped here', async () => {
    const memfd = share(data, { name: 'worker-copy' })
    const mapping = receive(memfd.fd, { borrow: true })
    const worker = startWorker()
    try {
      // A DOMException from postMessage is not an Error of jest's realm: told apart by the reply's shape.
      const reply = (await worker.ask({ cmd: 'copy', buffer: mapping.buffer }, [mapping.buffer]).catch((err: unknown) => err)) as object
      if ('sum' in reply) expect(reply).toEqual({ length: data.length, isMapping: false, sum: expectedSum })
      else expect(reply).toMatchObject({ name: 'DataCloneError' })
      expect(mapping.buffer.byteLength).toBe(data.length) // not detached: it was never transferred
      expect(native.isMapped(mapping.buffer)).toBe(true)
      expect(new Uint8Array(mapping.buffer)[4095]).toBe(data[4095])
    } finally {
      mapping.unmap()
      memfd.close()
      await worker.stop()
    }
  })

  // The descriptor is process-wide: the worker verifies and maps the same memfd, no copy.
  test('a worker maps the same memfd from its descriptor and reads every byte', async () => {
    const memfd = share(data, { name: 'worker-map' })
    expect(openFiles('/memfd:worker-map')).toBe(1)
    const worker = startWorker()
    const reply = await worker.ask({ cmd: 'read', fd: memfd.fd, name: 'worker-map' })
    expect(reply).toEqual({ length: data.length, isMapping: true, sum: expectedSum, maps: 1 })
    memfd.close()
    await worker.stop()
    expect(openFiles('/memfd:worker-map')).toBe(0) // the worker's duplicate is closed too
  })

  // The poller runs on the worker's own event loop (napi_get_uv_event_loop of the worker's environment).
  test('a worker receives a share over its own FdChannel', async () => {
    const [mine, theirs] = FdChannel.socketpair()
    const channel = FdChannel.adopt(mine)
    const worker = startWorker()
    const replied = worker.ask({ cmd: 'channel', fd: theirs })
    const memfd = share(data, { name: 'worker-channel' })
    await sendShared(channel, memfd, { from: 'main' })
    memfd.close()
    expect(await replied).toEqual({ header: { from: 'main' }, sum: expectedSum, isMapping: true })
    channel.close()
    await worker.stop()
  })

  // A worker that exits with a channel still open: its environment's cleanup hook closes the poller
  // and the socket, so nothing outlives the worker.
  test('a worker exiting with an open channel closes it (no leaked descriptor)', async () => {
    const [mine, theirs] = FdChannel.socketpair()
    const socket = identity(theirs)
    const worker = startWorker()
    expect(await worker.ask({ cmd: 'exit-open', fd: theirs })).toEqual({ waiting: true })
    await worker.stop()
    await turn()
    const channel = FdChannel.adopt(mine)
    await expect(channel.receive()).rejects.toMatchObject({ code: 'ERR_MEMSEAL_CHANNEL_CLOSED' })
    channel.close()
    expect(identity(theirs)).not.toBe(socket) // closed by the worker's teardown (or the number reused)
  })
})
