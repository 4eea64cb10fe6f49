/**
 * FdChannel and FdServer: descriptors and JSON headers over AF_UNIX stream sockets, polled on the event
 * loop. Each test counts this process's descriptors before and after: nothing may leak.
 */
import { spawnSync } from 'node:child_process'
import { fstatSync, mkdtempSync, existsSync, rmSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeFds, FdChannel, FdServer } from '../lib/fdpass'
import { Memfd } from '../lib/memfd'
import { constants, native } from '../lib/native'
import { fdCount, ROOT } from './helpers'

const identity = (fd: number) => {
  const s = fstatSync(fd)
  return `${s.dev}:${s.ino}`
}
// A closed poller's socket is closed in libuv's close callback: the close phase of this loop turn, which
// comes after setImmediate's check phase. Two turns are enough.
const turn = () => new Promise((resolve) => setImmediate(resolve))
const settle = async () => {
  await turn()
  await turn()
}

async function noLeak(body: () => Promise<void>): Promise<void> {
  const before = fdCount()
  await body()
  await settle() // a closed poller closes its socket in libuv's close callback
  expect(fdCount()).toBe(before)
}

describe('FdChannel over a socketpair', () => {
  // A descriptor arrives as a new descriptor for the same open file, close-on-exec (MSG_CMSG_CLOEXEC).
  test('sends a header and a memfd; the received fd is the same file and close-on-exec', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair()
      const m = Memfd.create('fdpass')
      await a.send({ kind: 'frame', n: 1 }, [m.fd])
      const msg = await b.receive()
      expect(msg.header).toEqual({ kind: 'frame', n: 1 })
      expect(msg.fds).toHaveLength(1)
      expect(msg.fds[0]).not.toBe(m.fd)
      expect(identity(msg.fds[0]!)).toBe(identity(m.fd))
      expect(native.fcntl(msg.fds[0]!, constants.F_GETFD) & constants.FD_CLOEXEC).toBe(constants.FD_CLOEXEC)
      closeFds(msg.fds)
      m.close()
      a.close()
      b.close()
    }))

  // Control for close-on-exec: a child spawned while the fd is open does not inherit it.
  test('a received descriptor is not inherited by a child process', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair()
      const m = Memfd.create('fdpass-cloexec')
      await a.send(null, [m.fd])
      const { fds } = await b.receive()
      const r = spawnSync('ls', ['/proc/self/fd'], { encoding: 'utf8' })
      expect(r.stdout.split('\n')).not.toContain(String(fds[0]))
      closeFds(fds)
      m.close()
      a.close()
      b.close()
    }))

  // The stream has no boundaries: descriptors must still reach the message they were sent with.
  test('many messages sent back to back keep their own descriptors', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair()
      const files = Array.from({ length: 20 }, (_, i) => Memfd.create(`fdpass-${i}`))
      const sends = files.map((m, i) => a.send({ i }, i % 3 === 0 ? [] : [m.fd]))
      await Promise.all(sends)
      for (let i = 0; i < files.length; i++) {
        const msg = await b.receive()
        expect(msg.header).toEqual({ i })
        expect(msg.fds.map(identity)).toEqual(i % 3 === 0 ? [] : [identity(files[i]!.fd)])
        closeFds(msg.fds)
      }
      for (const m of files) m.close()
      a.close()
      b.close()
    }))

  // Headers larger than the socket buffer: sendmsg sends part, the rest waits for writability.
  test('large headers are written in parts as the socket drains, fds still with their message', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair({ maxHeaderBytes: 1 << 20 })
      const m = Memfd.create('fdpass-large')
      const big = 'x'.repeat(900 * 1024)
      const sent = [a.send({ big, i: 0 }, [m.fd]), a.send({ big, i: 1 }, [m.fd]), a.send({ big, i: 2 })]
      for (let i = 0; i < 3; i++) {
        const msg = await b.receive()
        expect((msg.header as { i: number }).i).toBe(i)
        expect((msg.header as { big: string }).big.length).toBe(big.length)
        expect(msg.fds.map(identity)).toEqual(i < 2 ? [identity(m.fd)] : [])
        closeFds(msg.fds)
      }
      await Promise.all(sent)
      m.close()
      a.close()
      b.close()
    }))

  // No thread blocks: timers keep firing while a receive() waits.
  test('a pending receive() does not block the event loop', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair()
      let ticks = 0
      const timer = setInterval(() => ticks++, 5)
      const pending = b.receive()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(ticks).toBeGreaterThan(5)
      await a.send('late')
      expect((await pending).header).toBe('late')
      clearInterval(timer)
      a.close()
      b.close()
    }))

  test('the peer closing its end rejects receive() with ERR_MEMSEAL_CHANNEL_CLOSED and ends iteration', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair()
      await a.send(1)
      await a.send(2)
      a.close()
      const seen: unknown[] = []
      for await (const msg of b) seen.push(msg.header)
      expect(seen).toEqual([1, 2])
      await expect(b.receive()).rejects.toMatchObject({ code: 'ERR_MEMSEAL_CHANNEL_CLOSED' })
      await expect(b.send(3)).rejects.toMatchObject({ code: 'ERR_MEMSEAL_CHANNEL_CLOSED' })
    }))

  // Descriptors received but never handed out are closed with the channel.
  test('close() closes descriptors that were received but not yet handed out', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair()
      const m = Memfd.create('fdpass-unread')
      await a.send(1, [m.fd])
      await a.send(2, [m.fd])
      const first = await b.receive() // one recvmsg reads both messages; the second waits in the inbox
      expect(first.fds).toHaveLength(1)
      closeFds(first.fds)
      b.close()
      a.close()
      m.close()
    }))

  test('a header above maxHeaderBytes is refused on send', () =>
    noLeak(async () => {
      const [a, b] = FdChannel.pair({ maxHeaderBytes: 16 })
      await expect(a.send('x'.repeat(100))).rejects.toMatchObject({ code: 'ERR_MEMSEAL_MESSAGE_TOO_LARGE' })
      a.close()
      b.close()
    }))

  // A header above the limit loses the framing: the channel ends for every waiter, fds closed.
  test('a peer announcing a header above maxHeaderBytes ends the channel for every pending receive()', () =>
    noLeak(async () => {
      const [raw, theirs] = FdChannel.socketpair()
      const b = FdChannel.adopt(theirs, { maxHeaderBytes: 1024 })
      const pending = [b.receive(), b.receive()]
      const m = Memfd.create('fdpass-huge-header')
      const head = Buffer.alloc(4)
      head.writeUInt32BE(1025, 0)
      expect(native.fdpass.sendmsg(raw, head, [m.fd])).toBe(4)
      for (const p of pending) await expect(p).rejects.toMatchObject({ code: 'ERR_MEMSEAL_MESSAGE_TOO_LARGE' })
      await expect(b.receive()).rejects.toMatchObject({ code: 'ERR_MEMSEAL_MESSAGE_TOO_LARGE' })
      expect(b.closed).toBe(true)
      closeSync(raw)
      m.close()
    }))

  test('adopt() refuses what is not an AF_UNIX stream socket', () => {
    const m = Memfd.create('not-a-socket')
    expect(() => FdChannel.adopt(m.fd)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_SOCKET' }))
    m.close()
  })

  // An idle channel does not keep the process alive; a pending receive() does, until it settles.
  test('an idle channel lets the process exit; a pending receive keeps it alive until the message', () => {
    const script = `
      const { FdChannel } = require(${JSON.stringify(join(ROOT, 'dist', 'fdpass'))})
      const [a, b] = FdChannel.pair()
      b.receive().then((m) => console.log('got', m.header))
      setTimeout(() => a.send('late'), 200)
      const [c, d] = FdChannel.pair() // idle: must not hold the process
    `
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 })
    expect({ status: r.status, signal: r.signal, out: r.stdout.trim() }).toEqual({ status: 0, signal: null, out: 'got late' })
  })
})

describe('FdServer and FdChannel.connect over a socket path', () => {
  let dir: string
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'memseal-fdpass-'))))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('accepts a connection on a filesystem path, passes a descriptor, removes the path on close', () =>
    noLeak(async () => {
      const path = join(dir, 'server.sock')
      const server = FdServer.listen(path)
      const [client, conn] = await Promise.all([FdChannel.connect(path), server.accept()])
      const m = Memfd.create('over-path')
      await client.send({ hello: 'server' }, [m.fd])
      const msg = await conn.receive()
      expect(msg.header).toEqual({ hello: 'server' })
      expect(identity(msg.fds[0]!)).toBe(identity(m.fd))
      await conn.send('bye')
      expect((await client.receive()).header).toBe('bye')
      closeFds(msg.fds)
      m.close()
      client.close()
      conn.close()
      server.close()
      expect(existsSync(path)).toBe(false)
    }))

  test('abstract socket names (a Buffer starting with NUL) work too', () =>
    noLeak(async () => {
      const name = Buffer.from(`\0memseal-test-${process.pid}`)
      const server = FdServer.listen(name)
      const [client, conn] = await Promise.all([FdChannel.connect(name), server.accept()])
      await client.send('hi')
      expect((await conn.receive()).header).toBe('hi')
      client.close()
      conn.close()
      server.close()
    }))

  // Errors are Node-shaped SystemErrors.
  test('connect to a missing path rejects with ENOENT; listen on a used path with EADDRINUSE', () =>
    noLeak(async () => {
      await expect(FdChannel.connect(join(dir, 'missing.sock'))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'connect' })
      const path = join(dir, 'used.sock')
      const server = FdServer.listen(path)
      expect(() => FdServer.listen(path)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'listen' }))
      server.close()
    }))

  test('close() rejects a pending accept()', () =>
    noLeak(async () => {
      const server = FdServer.listen(join(dir, 'pending.sock'))
      const pending = server.accept()
      server.close()
      await expect(pending).rejects.toMatchObject({ code: 'ERR_MEMSEAL_CHANNEL_CLOSED' })
    }))
})

test('socketpair() ends are connected close-on-exec stream sockets', () => {
  const [a, b] = FdChannel.socketpair()
  expect(native.fdpass.socketInfo(a)).toEqual([native.fdpass.constants.AF_UNIX, native.fdpass.constants.SOCK_STREAM])
  expect(native.fcntl(b, constants.F_GETFD) & constants.FD_CLOEXEC).toBe(constants.FD_CLOEXEC)
  closeSync(a)
  closeSync(b)
})
