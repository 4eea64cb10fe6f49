/**
 * A malicious sender (test/fixtures/peer-hostile.js, a child process) against receive(): every trick is
 * refused with its own code, before anything is mapped, with every descriptor closed, and nobody dies of
 * a signal. Where a refusal guards against real harm, a control shows the harm (in a forked probe).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync } from 'node:fs'
import { createInterface, type Interface } from 'node:readline'
import { join } from 'node:path'
import { closeFds, FdChannel } from '../lib/fdpass'
import { Memfd } from '../lib/memfd'
import { receive, receiveShared } from '../lib/share'
import { fdCount, FIXTURES, ROOT } from './helpers'
import { buildFixture, type BuiltFixture } from './helpers/c-fixture'

// A closed channel's socket is closed in libuv's close callback, at the end of the loop turn.
const turn = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
// What `promise` settles to within `ms`, or 'still waiting' (the timer is cleared either way).
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)))
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}
async function settle(): Promise<void> {
  await turn()
  await turn()
}

interface Peer {
  channel: FdChannel
  /** The fixture's next stdout line, parsed. */
  next(): Promise<Record<string, unknown>>
  command(line: string): Promise<Record<string, unknown>>
  /** Ends the fixture (closes its stdin) and resolves with how it exited. */
  finish(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

function spawnPeer(scenario: string): Peer {
  const [mine, theirs] = FdChannel.socketpair()
  const child: ChildProcess = spawn(process.execPath, [join(FIXTURES, 'peer-hostile.js'), scenario], {
    stdio: ['pipe', 'pipe', 'pipe', theirs],
    env: { ...process.env, MEMSEAL_ROOT: ROOT },
  })
  closeSync(theirs)
  const channel = FdChannel.adopt(mine)
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const lines: Interface = createInterface({ input: child.stdout! })
  const queue: string[] = []
  const waiting: Array<(line: string) => void> = []
  lines.on('line', (line) => (waiting.length ? waiting.shift()!(line) : queue.push(line)))
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const take = (line: string) => resolve(JSON.parse(line) as Record<string, unknown>)
      if (queue.length) take(queue.shift()!)
      else waiting.push(take)
      void exited.then(() => setTimeout(() => reject(new Error(`peer exited early: ${stderr}`)), 100))
    })
  return {
    channel,
    next,
    command(line) {
      child.stdin!.write(`${line}\n`)
      return next()
    },
    async finish() {
      child.stdin!.end()
      channel.close()
      return { ...(await exited), stderr }
    },
  }
}

// Runs one scenario: the receiver takes the message (as receiveShared does) and the outcome is compared.
async function refusal(scenario: string, options: Parameters<typeof receiveShared>[1] = {}) {
  const before = fdCount()
  const peer = spawnPeer(scenario)
  const sent = await peer.next()
  let code: string | undefined
  try {
    const { mapping } = await receiveShared(peer.channel, options)
    mapping.unmap()
    code = 'accepted'
  } catch (err) {
    code = (err as { code?: string }).code ?? String(err)
  }
  const exit = await peer.finish()
  await settle()
  return { code, exit, sent, leaked: fdCount() - before }
}

const clean = { code: 0, signal: null }

describe('receive() refuses a hostile sender, each trick with its own code', () => {
  test.each`
    scenario                           | options                  | code
    ${'dev-shm'}                       | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'dev-shm-named-memfd'}           | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'pipe'}                          | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'socket'}                        | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'grow-only'}                     | ${{}}                    | ${'ERR_MEMSEAL_SEALS_MISSING'}
    ${'shrink-only'}                   | ${{}}                    | ${'ERR_MEMSEAL_SEALS_MISSING'}
    ${'future-write-with-mapping'}     | ${{}}                    | ${'ERR_MEMSEAL_SEALS_MISSING'}
    ${'future-write-readonly-mapping'} | ${{}}                    | ${'ERR_MEMSEAL_SEALS_MISSING'}
    ${'executable'}                    | ${{}}                    | ${'ERR_MEMSEAL_EXECUTABLE'}
    ${'no-fd'}                         | ${{}}                    | ${'ERR_MEMSEAL_NO_FD'}
    ${'several-fds'}                   | ${{}}                    | ${'ERR_MEMSEAL_TOO_MANY_FDS'}
    ${'flood-fds'}                     | ${{}}                    | ${'ERR_MEMSEAL_TOO_MANY_FDS'}
    ${'huge'}                          | ${{ maxSize: 64 << 20 }} | ${'ERR_MEMSEAL_TOO_LARGE'}
    ${'huge'}                          | ${{}}                    | ${'ERR_MEMSEAL_TOO_LARGE'}
    ${'size-mismatch'}                 | ${{}}                    | ${'ERR_MEMSEAL_SIZE_MISMATCH'}
    ${'empty'}                         | ${{}}                    | ${'ERR_MEMSEAL_EMPTY'}
    ${'huge-header'}                   | ${{}}                    | ${'ERR_MEMSEAL_MESSAGE_TOO_LARGE'}
    ${'bad-json'}                      | ${{}}                    | ${'ERR_MEMSEAL_BAD_MESSAGE'}
    ${'not-an-envelope'}               | ${{}}                    | ${'ERR_MEMSEAL_BAD_MESSAGE'}
  `('$scenario → $code, no descriptor leaked, no signal', async ({ scenario, options, code }) => {
    const r = await refusal(scenario, options)
    expect(r.code).toBe(code)
    expect(r.leaked).toBe(0)
    expect({ code: r.exit.code, signal: r.exit.signal }).toEqual(clean)
  })

  // The allowed control of the table: the same sender, honest, is accepted.
  test('a memfd sealed by share() is accepted; the sender cannot change it afterwards', async () => {
    const before = fdCount()
    const peer = spawnPeer('write-after-seal')
    const sent = await peer.next()
    // Every attempt of the sender after sealing failed on its own side.
    expect(sent.observed).toEqual({
      write: 'EPERM',
      shrink: 'EPERM',
      grow: 'EPERM',
      chmodExec: 'EPERM',
      mapWritable: 'EPERM',
      unseal: 'EPERM',
    })
    const { mapping } = await receiveShared(peer.channel)
    const view = new Uint8Array(mapping.buffer)
    expect(view.length).toBe(4096)
    expect(view.every((b) => b === 0x5a)).toBe(true)
    mapping.unmap()
    const exit = await peer.finish()
    await settle()
    expect({ code: exit.code, signal: exit.signal }).toEqual(clean)
    expect(fdCount()).toBe(before)
  })
})

describe('what the refusals prevent (controls, faults observed in forked probes)', () => {
  // F_SEAL_SHRINK missing: refused before mapping. Mapped anyway, the sender's truncation turns every
  // read of the view into SIGBUS, which the probe shows in a forked child, never here.
  test('unsealed memfd: refused before mapping; mapped unverified, its shrink would SIGBUS the reader', async () => {
    const before = fdCount()
    const peer = spawnPeer('unsealed-shrink')
    await peer.next()
    const message = await peer.channel.receive()
    expect(message.fds).toHaveLength(1)
    const fd = message.fds[0]!
    let code: string | undefined
    try {
      receive(message, { borrow: true })
    } catch (err) {
      code = (err as { code?: string }).code
    }
    expect(code).toBe('ERR_MEMSEAL_SEALS_MISSING')
    // The control: what a receiver that skips the check would get.
    const unverified = Memfd.from(fd)
    const view = unverified.map({ protection: 'r' })
    expect(view.probe(4096, 'read')).toBe('ok')
    expect(await peer.command('shrink')).toEqual({ done: 'shrink' })
    expect(view.probe(4096, 'read')).toBe('SIGBUS')
    view.unmap()
    unverified.close()
    const exit = await peer.finish()
    await settle()
    expect({ code: exit.code, signal: exit.signal }).toEqual(clean)
    expect(fdCount()).toBe(before)
  })

  // F_SEAL_FUTURE_WRITE without F_SEAL_WRITE: the sender's old writable mapping still writes, so the
  // default (which requires 'write') refuses it; a receiver that opts into 'future-write' sees it change.
  test('future-write only: the sender can still write through its old mapping, so the default refuses it', async () => {
    const peer = spawnPeer('future-write-with-mapping')
    const sent = await peer.next()
    expect(sent.observed).toEqual({ writeSyscall: 'EPERM' })
    const { mapping } = await receiveShared(peer.channel, { require: ['shrink', 'future-write'] })
    const view = new Uint8Array(mapping.buffer)
    expect(view[0]).toBe(0x5a)
    await peer.command('write')
    expect(view[0]).toBe(0x21)
    mapping.unmap()
    const exit = await peer.finish()
    expect({ code: exit.code, signal: exit.signal }).toEqual(clean)
  })

  // F_SEAL_FUTURE_WRITE is wider than "no more writes": a read-only shared mapping made before it (of a
  // descriptor opened for writing) can be mprotect()ed to writable afterwards and used to write. F_SEAL_WRITE
  // refuses to be added while such a mapping exists (EBUSY, the control), so 'write' guarantees what
  // 'future-write' does not: receive()'s default requires it.
  test('future-write only: an older read-only mapping of the sender is made writable and writes', async () => {
    const peer = spawnPeer('future-write-readonly-mapping')
    const sent = await peer.next()
    expect(sent.observed).toEqual({ writeSeal: 'EBUSY', writeSyscall: 'EPERM', newWritableMapping: 'EPERM' })
    const { mapping } = await receiveShared(peer.channel, { require: ['shrink', 'future-write'] })
    const view = new Uint8Array(mapping.buffer)
    expect(view[0]).toBe(0x5a)
    expect(await peer.command('mprotect-write')).toEqual({ done: 'mprotect-write' })
    expect(view[0]).toBe(0x33)
    mapping.unmap()
    const exit = await peer.finish()
    expect({ code: exit.code, signal: exit.signal }).toEqual(clean)
  })
})

/**
 * A hostile peer written in C (test/fixtures/peer-flood.c, raw sendmsg(2) with SCM_RIGHTS) floods and
 * stalls. It counts this process's descriptors from outside (/proc/<receiver>/fd) after every send: the
 * receiver may never hold more than maxFds (plus the one the kernel hands over beyond it, which is closed
 * at once) of what the peer sends, whatever the peer does.
 */
describe('a peer in C: floods are bounded by maxFds, stalls by signal and timeout', () => {
  const MAX_FDS = 16
  // The descriptors a read may add beyond maxFds (one more than the limit, so that the excess is seen)
  // and what else the test process may open meanwhile.
  const SLACK = 4
  let peer: BuiltFixture
  let peerPath: string
  beforeAll(() => {
    peer = buildFixture('peer-flood')
    // Building the peer is the tests' setup: a failure is a broken test, never a skip.
    if (peer.path === null) throw new Error(`cannot build test/fixtures/peer-flood.c: ${peer.reason}`)
    peerPath = peer.path
  })
  afterAll(() => peer.remove())
  // A test that fails half way must not leave its peer waiting on stdin (jest would wait for it too).
  const started: Array<{ child: ChildProcess; channel: FdChannel }> = []
  afterEach(() => {
    for (const { child, channel } of started.splice(0)) {
      channel.close()
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })

  interface Flood {
    channel: FdChannel
    line(): Promise<Record<string, unknown>>
    tell(line: string): void
    done: Promise<{ code: number | null; signal: NodeJS.Signals | null; report: Record<string, unknown> }>
  }

  function flood(scenario: string, count = 0): Flood {
    const [mine, theirs] = FdChannel.socketpair()
    const child = spawn(peerPath, [scenario, String(count)], { stdio: ['pipe', 'pipe', 'inherit', theirs] })
    closeSync(theirs)
    const channel = FdChannel.adopt(mine, { maxFds: MAX_FDS })
    started.push({ child, channel })
    const lines: string[] = []
    const waiting: Array<(line: string) => void> = []
    createInterface({ input: child.stdout! }).on('line', (l) => (waiting.length ? waiting.shift()!(l) : lines.push(l)))
    const line = () =>
      new Promise<Record<string, unknown>>((resolve) => (lines.length ? resolve(JSON.parse(lines.shift()!)) : waiting.push((l) => resolve(JSON.parse(l)))))
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; report: Record<string, unknown> }>((resolve) =>
      child.on('exit', (code, signal) => void line().then((report) => resolve({ code, signal, report }))),
    )
    return { channel, line, tell: (l) => child.stdin!.write(`${l}\n`), done }
  }

  // Receives until the channel ends, closing whatever is delivered; the outcomes in order, repeats folded.
  async function drain(channel: FdChannel): Promise<string[]> {
    const seen: string[] = []
    for (;;) {
      let outcome: string
      try {
        closeFds((await channel.receive()).fds)
        outcome = 'message'
      } catch (err) {
        outcome = (err as { code?: string }).code ?? String(err)
      }
      if (seen[seen.length - 1] !== outcome) seen.push(outcome)
      if (channel.closed) return seen
    }
  }

  // One message that never completes, 64 more descriptors with every byte: the channel is closed as soon as
  // the message holds more than maxFds, with all of them.
  test('partial frame, 64 descriptors per byte: the channel ends at maxFds + 1, all closed, the count bounded', async () => {
    const before = fdCount()
    const f = flood('partial-flood', 200)
    expect(await drain(f.channel)).toEqual(['ERR_MEMSEAL_TOO_MANY_FDS'])
    const { code, signal, report } = await f.done
    await settle()
    expect({ code, signal }).toEqual(clean)
    expect(['EPIPE', 'ECONNRESET']).toContain(report.end)
    expect((report.maxReceiverFds as number) - (report.before as number)).toBeLessThanOrEqual(MAX_FDS + SLACK)
    expect(fdCount()).toBe(before)
  })

  // Complete messages with 64 descriptors each: each is refused and its descriptors closed, the channel
  // goes on; the receiver never holds more than one message's worth.
  test('200 complete messages of 64 descriptors each: every one refused, the count bounded, the channel usable to the end', async () => {
    const before = fdCount()
    const f = flood('message-flood', 200)
    const outcomes = await drain(f.channel)
    const { code, signal, report } = await f.done
    await settle()
    expect({ code, signal }).toEqual(clean)
    expect(outcomes).toEqual(['ERR_MEMSEAL_TOO_MANY_FDS', 'ERR_MEMSEAL_CHANNEL_CLOSED'])
    expect({ chunks: report.chunks, fdsSent: report.fdsSent, end: report.end }).toEqual({ chunks: 200, fdsSent: 200 * 64, end: 'done' })
    expect((report.maxReceiverFds as number) - (report.before as number)).toBeLessThanOrEqual(MAX_FDS + SLACK)
    expect(fdCount()).toBe(before)
  })

  // Half a message and then nothing: a timeout ends the wait with an AbortError (its cause a TimeoutError),
  // the three descriptors that came are closed, and the channel with them (the stream cannot resume).
  test('a stalled half message: receive({ timeout }) rejects with AbortError, closes what arrived and the channel', async () => {
    const before = fdCount()
    const f = flood('stall')
    expect(await f.line()).toEqual({ stalled: true })
    const started = Date.now()
    const outcome = await within(
      f.channel.receive({ timeout: 200 }).catch((err: Error) => err),
      5000,
    )
    expect(outcome).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: { name: 'TimeoutError' } })
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    await expect(f.channel.receive()).rejects.toMatchObject({ code: 'ERR_MEMSEAL_CHANNEL_CLOSED' })
    f.tell('go')
    const { code, signal } = await f.done
    await settle()
    expect({ code, signal }).toEqual(clean)
    expect(fdCount()).toBe(before)
  })

  // The same through receiveShared() and an AbortSignal: the AbortError's cause is the signal's reason.
  test('a stalled half message: receiveShared({ signal }) rejects with AbortError carrying the reason', async () => {
    const before = fdCount()
    const f = flood('stall')
    expect(await f.line()).toEqual({ stalled: true })
    const controller = new AbortController()
    const pending = receiveShared(f.channel, { signal: controller.signal }).catch((err: Error) => err)
    await sleep(50)
    controller.abort(new Error('enough'))
    const outcome = await within(pending, 5000)
    expect(outcome).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: { message: 'enough' } })
    expect(f.channel.closed).toBe(true)
    f.tell('go')
    expect({ code: (await f.done).code }).toEqual({ code: 0 })
    await settle()
    expect(fdCount()).toBe(before)
  })

  // The allowed control: aborted before any byte of the next message came, the channel stays usable and
  // the next receive() gets the message whole, descriptor included. An already aborted signal rejects at once.
  test('aborted before anything arrived: the channel stays usable for the next message', async () => {
    const before = fdCount()
    const f = flood('wait-then-send')
    expect(await f.line()).toEqual({ waiting: true })
    const controller = new AbortController()
    const pending = f.channel.receive({ signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' })
    await expect(f.channel.receive({ signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' })
    expect(f.channel.closed).toBe(false)
    f.tell('send')
    const message = await within(f.channel.receive({ timeout: 5000 }), 5000)
    if (message === 'still waiting') throw new Error('the message sent after the abort never came')
    expect({ header: message.header, fds: message.fds.length }).toEqual({ header: { late: true }, fds: 1 })
    closeFds(message.fds)
    f.tell('end')
    f.channel.close()
    expect({ code: (await f.done).code }).toEqual({ code: 0 })
    await settle()
    expect(fdCount()).toBe(before)
  })
})
