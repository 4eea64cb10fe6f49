/**
 * A malicious sender (test/fixtures/peer-hostile.js, a child process) against receive(): every trick is
 * refused with its own code, before anything is mapped, with every descriptor closed, and nobody dies of
 * a signal. Where a refusal guards against real harm, a control shows the harm (in a forked probe).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync } from 'node:fs'
import { createInterface, type Interface } from 'node:readline'
import { join } from 'node:path'
import { FdChannel } from '../lib/fdpass'
import { Memfd } from '../lib/memfd'
import { receive, receiveShared } from '../lib/share'
import { fdCount, FIXTURES, ROOT } from './helpers'

// A closed channel's socket is closed in libuv's close callback, at the end of the loop turn.
const turn = () => new Promise((resolve) => setImmediate(resolve))
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
    scenario                       | options                  | code
    ${'dev-shm'}                   | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'dev-shm-named-memfd'}       | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'pipe'}                      | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'socket'}                    | ${{}}                    | ${'ERR_MEMSEAL_NOT_MEMFD'}
    ${'grow-only'}                 | ${{}}                    | ${'ERR_MEMSEAL_SEALS_MISSING'}
    ${'shrink-only'}               | ${{}}                    | ${'ERR_MEMSEAL_SEALS_MISSING'}
    ${'future-write-with-mapping'} | ${{}}                    | ${'ERR_MEMSEAL_SEALS_MISSING'}
    ${'executable'}                | ${{}}                    | ${'ERR_MEMSEAL_EXECUTABLE'}
    ${'no-fd'}                     | ${{}}                    | ${'ERR_MEMSEAL_NO_FD'}
    ${'several-fds'}               | ${{}}                    | ${'ERR_MEMSEAL_TOO_MANY_FDS'}
    ${'flood-fds'}                 | ${{}}                    | ${'ERR_MEMSEAL_TOO_MANY_FDS'}
    ${'huge'}                      | ${{ maxSize: 64 << 20 }} | ${'ERR_MEMSEAL_TOO_LARGE'}
    ${'huge'}                      | ${{}}                    | ${'ERR_MEMSEAL_TOO_LARGE'}
    ${'size-mismatch'}             | ${{}}                    | ${'ERR_MEMSEAL_SIZE_MISMATCH'}
    ${'empty'}                     | ${{}}                    | ${'ERR_MEMSEAL_EMPTY'}
    ${'huge-header'}               | ${{}}                    | ${'ERR_MEMSEAL_MESSAGE_TOO_LARGE'}
    ${'bad-json'}                  | ${{}}                    | ${'ERR_MEMSEAL_BAD_MESSAGE'}
    ${'not-an-envelope'}           | ${{}}                    | ${'ERR_MEMSEAL_BAD_MESSAGE'}
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
})
