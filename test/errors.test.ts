/**
 * The right error for each wrong thing: this process's own EMFILE is not blamed on the peer, an O_PATH
 * descriptor is not a memfd, a bad descriptor reports itself (not the cleanup after it), channel argument
 * errors carry Node's codes, a header that is not UTF-8 is refused, a transferred buffer leaves the
 * mapping usable, and errors name the descriptor the caller gave.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { closeFds, FdChannel } from '../lib/fdpass'
import { Memfd } from '../lib/memfd'
import { constants, native } from '../lib/native'
import { receive, share } from '../lib/share'
import { errorOf, fdCount, fixtureJson } from './helpers'

const PAGE = constants.PAGE_SIZE
const O_PATH = constants.O_PATH
const turn = () => new Promise((resolve) => setImmediate(resolve))
const settle = async () => {
  await turn()
  await turn()
}

describe('an O_PATH descriptor to a memfd is not a memfd', () => {
  // It can be neither read nor mapped (fcntl(F_GET_SEALS) even fails with EBADF): refused for what it is,
  // with or without required seals; the control, a descriptor opened for reading, is accepted.
  test.each([
    ['without require', {}],
    ['with require', { require: ['shrink' as const] }],
  ])('Memfd.from(O_PATH) %s → ERR_MEMSEAL_NOT_MEMFD; control: O_RDONLY accepted', (_label, options) => {
    using m = Memfd.create('opath', { size: PAGE })
    m.addSeals(['shrink'])
    const path = openSync(`/proc/self/fd/${m.fd}`, O_PATH)
    try {
      expect(errorOf(() => Memfd.from(path, options))).toMatchObject({ code: 'ERR_MEMSEAL_NOT_MEMFD', message: expect.stringContaining('O_PATH') })
    } finally {
      closeSync(path) // refused: the caller still owns it
    }
    using readable = Memfd.from(openSync(`/proc/self/fd/${m.fd}`, 'r'), options)
    expect(readable.size).toBe(PAGE)
  })

  test('receive(O_PATH) → ERR_MEMSEAL_NOT_MEMFD, the descriptor closed', () => {
    using m = share(Buffer.alloc(PAGE, 1))
    const before = fdCount()
    const path = openSync(`/proc/self/fd/${m.fd}`, O_PATH)
    expect(errorOf(() => receive(path))).toMatchObject({ code: 'ERR_MEMSEAL_NOT_MEMFD' })
    expect(fdCount()).toBe(before)
  })
})

describe('errors name what the caller gave', () => {
  // A bad descriptor in a message: the error is the descriptor's own (EBADF from fstat), not the one of
  // closing it afterwards; and numbers that are no descriptors at all are a TypeError.
  test('receive({ fds: [closed fd] }) reports the descriptor, not the cleanup', () => {
    const fd = openSync('/dev/null', 'r')
    closeSync(fd)
    const err = errorOf(() => receive({ header: null, fds: [fd] }))
    expect({ code: err.code, syscall: err.syscall }).toEqual({ code: 'EBADF', syscall: 'fstat' })
    expect(errorOf(() => receive({ header: null, fds: [-1] }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    expect(errorOf(() => receive({ header: null, fds: [1.5] }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
  })

  // receive(fd, { borrow: true }) works on a duplicate; its refusals name fd, not the duplicate's number.
  test('receive(0, { borrow: true }) names fd 0 in its error, not the duplicate it made', () => {
    const next = openSync('/dev/null', 'r') // the number the duplicate gets
    closeSync(next)
    const err = errorOf(() => receive(0, { borrow: true }))
    expect(err.code).toBe('ERR_MEMSEAL_NOT_MEMFD')
    expect(err.message).toMatch(/^fd 0 /)
    expect(err.message).not.toContain(`fd ${next} `)
    expect(native.fcntl(0, constants.F_GETFD)).toBeGreaterThanOrEqual(0) // borrowed: fd 0 stays open
  })
})

describe('FdChannel#send argument errors carry Node codes and reject', () => {
  test.each([
    ['fds not an array', 'ERR_INVALID_ARG_TYPE', 'x'],
    ['a negative fd', 'ERR_OUT_OF_RANGE', [-1]],
    ['a fractional fd', 'ERR_OUT_OF_RANGE', [1.5]],
    ['a string fd', 'ERR_INVALID_ARG_TYPE', ['3']],
    ['more than SCM_MAX_FD', 'ERR_OUT_OF_RANGE', new Array<number>(254).fill(0)],
  ])('%s → %s', async (_label, code, fds) => {
    const [a, b] = FdChannel.pair()
    let pending: Promise<void> | undefined
    expect(() => (pending = a.send(null, fds as never))).not.toThrow()
    await expect(pending).rejects.toMatchObject({ code })
    a.close()
    b.close()
  })

  // The allowed control: the same channel sends a valid message afterwards.
  test('control: a valid send after a refused one goes through', async () => {
    const [a, b] = FdChannel.pair()
    await expect(a.send(null, [-1])).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' })
    await a.send({ ok: true })
    expect((await b.receive()).header).toEqual({ ok: true })
    a.close()
    b.close()
  })
})

describe('headers must be UTF-8', () => {
  const frame = (json: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, json.length]), json])

  // Bytes that are not UTF-8 are refused with the message's descriptors closed, never decoded lossily into
  // a different string; the channel goes on. The control: multi-byte UTF-8 arrives intact.
  test('invalid UTF-8 → ERR_MEMSEAL_BAD_MESSAGE, its fd closed; control: valid multi-byte UTF-8 accepted', async () => {
    await settle() // sockets of channels closed by earlier tests go in libuv's close callback
    const before = fdCount()
    const [raw, theirs] = FdChannel.socketpair()
    const b = FdChannel.adopt(theirs)
    const m = Memfd.create('utf8')
    expect(native.fdpass.sendmsg(raw, frame(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])), [m.fd])).toBe(14)
    expect(native.fdpass.sendmsg(raw, frame(Buffer.from('{"a":"é✓"}')), [m.fd])).toBe(4 + Buffer.byteLength('{"a":"é✓"}'))
    await expect(b.receive()).rejects.toMatchObject({ code: 'ERR_MEMSEAL_BAD_MESSAGE' })
    const good = await b.receive()
    expect(good.header).toEqual({ a: 'é✓' })
    closeFds(good.fds)
    b.close()
    closeSync(raw)
    m.close()
    await settle()
    expect(fdCount()).toBe(before)
  })
})

describe("this process's own descriptor limit is not the peer's fault", () => {
  // With RLIMIT_NOFILE nearly reached, the kernel installs only part of a message's descriptors
  // (MSG_CTRUNC): a SystemError EMFILE (recvmsg), not ERR_MEMSEAL_TOO_MANY_FDS; the message is refused, what
  // arrived closed, and the channel goes on (the control: the same message once the limit allows it).
  test('EMFILE while receiving → SystemError EMFILE; the channel stays usable', () => {
    const r = fixtureJson<{ refused: Record<string, unknown>; then: Record<string, unknown>; fdsBack: boolean }>('recv-emfile')
    expect(r).toEqual({
      refused: { name: 'Error', code: 'EMFILE', syscall: 'recvmsg' },
      then: { header: { n: 2 }, fds: 5 },
      fdsBack: true,
    })
  })
})

describe('ArrayBuffer.prototype.transfer() of a mapping buffer', () => {
  // transfer() moves the pages to an ArrayBuffer memseal never made. The mapping stays usable; remap() is
  // refused (the pages must not move under that buffer) and unmap() releases the file while the moved
  // buffer reads anonymous memory from then on: nothing dangles, nothing crashes.
  // Node 21 on has transfer(); Node 20 has it behind a V8 flag; Node 18 has neither, so nothing can move
  // a mapping's pages there and the case cannot arise.
  const builtIn = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function'
  const flags = builtIn ? [] : ['--harmony-rab-gsab-transfer']
  const probe = spawnSync(process.execPath, [...flags, '-e', "process.exit(typeof ArrayBuffer.prototype.transfer === 'function' ? 0 : 3)"], {
    encoding: 'utf8',
  })
  const available = probe.status === 0
  // The skip below is for Node 18 alone: from Node 20 on a missing transfer() is a failure, not a skip.
  test('transfer() is there from Node 20 on (behind --harmony-rab-gsab-transfer in Node 20)', () => {
    const major = Number(process.versions.node.split('.')[0])
    expect({ major, available: major >= 20 ? available : 'not required' }).toEqual({ major, available: major >= 20 ? true : 'not required' })
  })
  ;(available ? test : test.skip)(
    `the mapping stays usable, unmap() works, the moved buffer never dangles${available ? '' : ` (skipped: Node ${process.version} has no ArrayBuffer.prototype.transfer, not even behind a flag)`}`,
    () => {
      const r = fixtureJson('transfer', [], ['--expose-gc', ...flags])
      expect(r).toEqual({
        transferred: { original: 0, moved: 2 * PAGE, movedReads: 0x68 },
        mapping: { buffer: 2 * PAGE, sameFile: 0x65, protect: 'ok', probe: 'SIGSEGV' },
        remap: 'ERR_MEMSEAL_BUSY',
        unmap: 'ok',
        afterUnmap: { mapped: false, buffer: 0, moved: 2 * PAGE, movedReads: 0, movedWrites: 'ok', fileMaps: 0, writeSeal: 'ok' },
        // Everything given back once the moved buffer is collected: its finalizer is the mapping's own.
        afterCollection: { live: 0, pending: 0 },
      })
    },
  )
})
