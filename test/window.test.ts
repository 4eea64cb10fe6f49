/**
 * ReceiveWindow: one read-only address range and one ArrayBuffer, into which each received memfd is
 * mapped in place. Checked on the process's own mappings (/proc/self/maps) and descriptors, not on return
 * values: what the window shows, that a replaced or cleared file is really gone, that a refused memfd is
 * closed and leaves the window as it was, and that receiving costs V8 no collection where a new mapping
 * per receive does (a child with --expose-gc).
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, readFileSync } from 'node:fs'
import { FdChannel, kernel, Memfd, ReceiveWindow, Mapping, sealForSharing, sendShared, share } from '../lib'
import { constants, native } from '../lib/native'
import { codeOf, errorOf, fdCount, fixtureJson, ROOT } from './helpers'

const settle = async () => {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve))
}
const MiB = 1 << 20
// Lines of /proc/self/maps that map the memfd named `name`, with their permissions.
const mapsOf = (name: string): string[] =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(`/memfd:${name} `))
    .map((line) => line.split(/\s+/)[1]!)

async function pair(): Promise<[FdChannel, FdChannel]> {
  await settle()
  return FdChannel.pair()
}

describe('ReceiveWindow', () => {
  test('a new window is capacity bytes of zeros, one ArrayBuffer, showing nothing', () => {
    using w = ReceiveWindow.create(3 * MiB + 5)
    expect(w.capacity).toBe(3 * MiB + 5)
    expect(w.buffer.byteLength).toBe(3 * MiB + 5)
    expect(w.size).toBe(0)
    expect(w.bytes.byteLength).toBe(0)
    const all = new Uint8Array(w.buffer)
    expect(all[0]).toBe(0)
    expect(all[all.length - 1]).toBe(0)
    expect(w.buffer).toBe(w.buffer) // always the same ArrayBuffer
  })

  test('receive() shows the memfd read-only and shared, closes its descriptor, and resolves its header and bytes', async () => {
    const [a, b] = await pair()
    const before = fdCount()
    using w = ReceiveWindow.create(4 * MiB)
    using memfd = share('hello, window', { name: 'win-hello' })
    await sendShared(a, memfd, { seq: 1 })
    const { header, bytes } = await w.receive(b)
    expect(header).toEqual({ seq: 1 })
    expect(Buffer.from(bytes).toString()).toBe('hello, window')
    expect(w.size).toBe(13)
    expect(bytes.buffer).toBe(w.buffer)
    // The sender's memfd is open here; the received descriptor is not (the mapping keeps the pages).
    expect(fdCount()).toBe(before + 1)
    expect(mapsOf('win-hello')).toEqual(['r--s'])
    // Past the file's end: the rest of its page is the file's zero tail, then the window's zero pages.
    expect(new Uint8Array(w.buffer)[13]).toBe(0)
    expect(new Uint8Array(w.buffer)[2 * MiB]).toBe(0)
    a.close()
    b.close()
  })

  test('the next file replaces the previous one in place: every view shows it, the old pages are gone, nothing faults', async () => {
    const [a, b] = await pair()
    using w = ReceiveWindow.create(4 * MiB)
    using big = share(Buffer.alloc(3 * MiB, 7), { name: 'win-big' })
    using small = share('x', { name: 'win-small' })
    await sendShared(a, big)
    const first = (await w.receive(b)).bytes
    expect(first.byteLength).toBe(3 * MiB)
    expect(first[3 * MiB - 1]).toBe(7)
    expect(mapsOf('win-big')).toEqual(['r--s'])

    await sendShared(a, small)
    const second = (await w.receive(b)).bytes
    expect(Buffer.from(second).toString()).toBe('x')
    expect(mapsOf('win-small')).toEqual(['r--s'])
    expect(mapsOf('win-big')).toEqual([]) // the longer file's pages past the new one are zero pages now
    // The first file's view reads the window as it is now: the new file, then zeros; never a hole.
    expect(first[0]).toBe('x'.charCodeAt(0))
    expect(first[1]).toBe(0)
    expect(first[3 * MiB - 1]).toBe(0)
    a.close()
    b.close()
  })

  test('a memfd larger than the window is refused and closed, the window unchanged; one of exactly its capacity is shown', async () => {
    const [a, b] = await pair()
    using w = ReceiveWindow.create(MiB)
    using shown = share('kept', { name: 'win-kept' })
    await sendShared(a, shown)
    await w.receive(b)
    using tooBig = share(Buffer.alloc(MiB + 1), { name: 'win-too-big' })
    const before = fdCount()
    await sendShared(a, tooBig)
    await expect(w.receive(b)).rejects.toMatchObject({ code: 'ERR_MEMSEAL_TOO_LARGE' })
    expect(fdCount()).toBe(before)
    expect(mapsOf('win-too-big')).toEqual([])
    expect(Buffer.from(w.bytes).toString()).toBe('kept')

    using exact = share(Buffer.alloc(MiB, 3), { name: 'win-exact' })
    await sendShared(a, exact)
    const { bytes } = await w.receive(b)
    expect(bytes.byteLength).toBe(MiB)
    expect(bytes[MiB - 1]).toBe(3)
    a.close()
    b.close()
  })

  test("receiveShared()'s checks apply: an unsealed memfd is refused and closed, the window unchanged; the sealed control is shown", async () => {
    const [a, b] = await pair()
    using w = ReceiveWindow.create(MiB)
    using kept = share('kept', { name: 'win-kept2' })
    await sendShared(a, kept)
    await w.receive(b)
    using unsealed = Memfd.create('win-unsealed', { exec: kernel.features().noexecSeal ? false : undefined })
    unsealed.write('unsealed')
    const before = fdCount()
    await sendShared(a, unsealed)
    await expect(w.receive(b)).rejects.toMatchObject({ code: 'ERR_MEMSEAL_SEALS_MISSING' })
    expect(fdCount()).toBe(before)
    expect(Buffer.from(w.bytes).toString()).toBe('kept')

    await sendShared(a, sealForSharing(unsealed))
    expect(Buffer.from((await w.receive(b)).bytes).toString()).toBe('unsealed')
    a.close()
    b.close()
  })

  test('one receive at a time: a second concurrent receive() is refused with ERR_MEMSEAL_BUSY; the first completes', async () => {
    const [a, b] = await pair()
    using w = ReceiveWindow.create(MiB)
    const first = w.receive(b)
    await expect(w.receive(b)).rejects.toMatchObject({ code: 'ERR_MEMSEAL_BUSY' })
    using memfd = share('first')
    await sendShared(a, memfd)
    expect(Buffer.from((await first).bytes).toString()).toBe('first')
    a.close()
    b.close()
  })

  test('clear() releases the file: zero pages only, size 0; the window receives again afterwards', async () => {
    const [a, b] = await pair()
    using w = ReceiveWindow.create(MiB)
    using memfd = share('to clear', { name: 'win-clear' })
    await sendShared(a, memfd)
    const { bytes } = await w.receive(b)
    w.clear()
    expect(w.size).toBe(0)
    expect(w.bytes.byteLength).toBe(0)
    expect(mapsOf('win-clear')).toEqual([])
    expect(bytes[0]).toBe(0) // the old view reads the zero pages
    await sendShared(a, memfd)
    expect(Buffer.from((await w.receive(b)).bytes).toString()).toBe('to clear')
    a.close()
    b.close()
  })

  test('close() unmaps the window and detaches its ArrayBuffer; receive() after it is refused; idempotent', async () => {
    const [a, b] = await pair()
    const w = ReceiveWindow.create(MiB)
    using memfd = share('closing', { name: 'win-close' })
    await sendShared(a, memfd)
    const { bytes } = await w.receive(b)
    const buffer = w.buffer
    w.close()
    w.close()
    expect(w.closed).toBe(true)
    expect(buffer.byteLength).toBe(0)
    expect(bytes.byteLength).toBe(0)
    expect(w.bytes.byteLength).toBe(0)
    expect(mapsOf('win-close')).toEqual([])
    await expect(w.receive(b)).rejects.toMatchObject({ code: 'ERR_MEMSEAL_UNMAPPED' })
    expect(codeOf(() => w.receiveSync(b))).toBe('ERR_MEMSEAL_UNMAPPED')
    a.close()
    b.close()
  })

  test('bad arguments are RangeErrors and TypeErrors; the largest capacity is one ArrayBuffer', () => {
    expect(codeOf(() => ReceiveWindow.create(0))).toBe('ERR_OUT_OF_RANGE')
    expect(codeOf(() => ReceiveWindow.create(1.5))).toBe('ERR_OUT_OF_RANGE')
    expect(codeOf(() => ReceiveWindow.create(Mapping.maxViewLength + 1))).toBe('ERR_OUT_OF_RANGE')
    expect(codeOf(() => ReceiveWindow.create('1' as unknown as number))).toBe('ERR_INVALID_ARG_TYPE')
    expect(codeOf(() => ReceiveWindow.create(4096, { alignment: 3 * 4096 }))).toBe('ERR_OUT_OF_RANGE')
    expect(codeOf(() => ReceiveWindow.create(4096, { alignment: 2048 }))).toBe('ERR_OUT_OF_RANGE')
    expect(codeOf(() => ReceiveWindow.create(4096, { aligment: 4096 } as never))).toBe('ERR_INVALID_ARG_VALUE')
    using ok = ReceiveWindow.create(4096, { alignment: 64 * 1024 })
    expect(ok.capacity).toBe(4096)
  })

  // The window is read-only: a write faults (in a child, so this process is not the one killed); reading
  // the same byte there is the allowed control.
  test('writing to the window raises SIGSEGV; reading it does not', () => {
    const script = (op: string) => `
      const { ReceiveWindow } = require(${JSON.stringify(`${ROOT}/dist`)})
      const w = ReceiveWindow.create(4096)
      const v = new Uint8Array(w.buffer)
      ${op}
      process.stdout.write('survived')`
    const read = spawnSync(process.execPath, ['-e', script('v[0] + 1')], { encoding: 'utf8' })
    expect({ signal: read.signal, out: read.stdout }).toEqual({ signal: null, out: 'survived' })
    const write = spawnSync(process.execPath, ['-e', script('v[0] = 1')], { encoding: 'utf8' })
    expect({ signal: write.signal, out: write.stdout }).toEqual({ signal: 'SIGSEGV', out: '' })
  })

  // ArrayBuffer.prototype.transfer() moves the pages to an ArrayBuffer memseal never made: the window
  // then makes a new one over the same pages, and on close() the moved one still reads memory (zero
  // pages), never a hole. Node 20 has transfer() behind a flag; Node 18 has none.
  const hasTransfer = Number(process.versions.node.split('.')[0]) >= 20
  const transferFlags = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function' ? [] : ['--harmony-rab-gsab-transfer']
  ;(hasTransfer ? test : test.skip)(
    `a transferred buffer: the window makes a new one; after close() the moved one reads zeros${hasTransfer ? '' : ' (skipped: Node 18 has no ArrayBuffer.prototype.transfer())'}`,
    () => {
      const script = `
      const { FdChannel, ReceiveWindow, share, sendShared } = require(${JSON.stringify(`${ROOT}/dist`)})
      ;(async () => {
        const [a, b] = FdChannel.pair()
        const w = ReceiveWindow.create(1 << 20)
        await sendShared(a, share('moved'))
        await w.receive(b)
        const moved = w.buffer.transfer()
        const again = w.buffer
        const out = { movedReads: Buffer.from(moved, 0, 5).toString(), again: Buffer.from(again, 0, 5).toString(), same: again === w.buffer }
        w.close()
        out.afterClose = new Uint8Array(moved)[0]
        out.againLength = again.byteLength
        process.stdout.write(JSON.stringify(out))
        a.close(); b.close()
      })()`
      const r = spawnSync(process.execPath, [...transferFlags, '-e', script], { encoding: 'utf8' })
      expect({ signal: r.signal, stderr: r.stderr }).toEqual({ signal: null, stderr: '' })
      expect(JSON.parse(r.stdout)).toEqual({ movedReads: 'moved', again: 'moved', same: true, afterClose: 0, againLength: 0 })
    },
  )

  // The point of the window: a new mapping per receive charges V8's external memory each time and starts
  // collections; the window was charged once. The dropped window is collected and unmapped.
  test('receiving 8 × 64 MiB into a window starts no major collection (a mapping per receive does); a dropped window is unmapped', () => {
    const window = fixtureJson<{ major: number; checksum: number; withWindow: number; afterDrop: number }>('window-gc', ['window', '64', '8'], ['--expose-gc'])
    const mappings = fixtureJson<{ major: number; checksum: number }>('window-gc', ['mapping', '64', '8'], ['--expose-gc'])
    expect(window).toEqual({ major: 0, checksum: 36, withWindow: 1, afterDrop: 0 })
    expect(mappings.checksum).toBe(36)
    expect(mappings.major).toBeGreaterThan(0)
  })
})

describe('ReceiveWindow#show: a descriptor in hand', () => {
  // receive()'s form: the descriptor is taken and closed (or, with borrow, duplicated and the caller's own
  // left open); a file larger than the window is refused and closed, the window unchanged.
  test('shows a descriptor or a message, closes what it took, keeps a borrowed one; refuses one too large', async () => {
    using w = ReceiveWindow.create(MiB)
    using memfd = share('in hand', { name: 'win-show' })
    const dup = () => native.fcntl(memfd.fd, constants.F_DUPFD_CLOEXEC, 0)
    const open = (fd: number) => native.fcntl(fd, constants.F_GETFD) >= 0

    const fd = dup()
    let count = fdCount()
    expect(Buffer.from(w.show(fd)).toString()).toBe('in hand')
    expect({ open: open(fd), count: fdCount() }).toEqual({ open: false, count: count - 1 }) // taken and closed
    expect(mapsOf('win-show')).toEqual(['r--s'])

    const borrowed = dup()
    count = fdCount()
    expect(w.show(borrowed, { borrow: true }).byteLength).toBe(7)
    expect({ open: open(borrowed), count: fdCount() }).toEqual({ open: true, count }) // still the caller's
    closeSync(borrowed)

    const [a, b] = await pair()
    await a.send(null, [memfd.fd])
    const message = await b.receive()
    count = fdCount()
    expect(w.show(message).byteLength).toBe(7)
    expect({ open: open(message.fds[0]!), count: fdCount() }).toEqual({ open: false, count: count - 1 })

    using big = share(Buffer.alloc(MiB + 4096), { name: 'win-show-big' })
    const bigFd = native.fcntl(big.fd, constants.F_DUPFD_CLOEXEC, 0)
    count = fdCount()
    expect(codeOf(() => w.show(bigFd))).toBe('ERR_MEMSEAL_TOO_LARGE')
    expect({ open: open(bigFd), count: fdCount() }).toEqual({ open: false, count: count - 1 })
    expect(mapsOf('win-show-big')).toEqual([])
    expect(Buffer.from(w.bytes).toString()).toBe('in hand')
    expect(codeOf(() => w.show('3' as unknown as number))).toBe('ERR_INVALID_ARG_TYPE')
    a.close()
    b.close()
  })
})

describe('ReceiveWindow with huge pages', () => {
  const pool = kernel.environment().hugetlbPools.find((p) => p.pageSize === 2 * MiB)
  const ready = pool !== undefined && pool.free >= 2
  const why = ready
    ? ''
    : ` (skipped: fewer than 2 free 2 MiB hugetlb pages (${pool ? `${pool.free} free of ${pool.total}` : 'no 2 MiB pool'}); reserve with: echo 2 > /proc/sys/vm/nr_hugepages)`
  // The window is aligned to the default huge page size, so a hugetlb memfd maps into it; a 4 KiB-page
  // memfd after it is the control (and replaces it).
  ;(ready ? test : test.skip)(`a hugetlb memfd is shown (2 MiB pages), then a 4 KiB-page one in its place${why}`, async () => {
    const [a, b] = await pair()
    using w = ReceiveWindow.create(4 * MiB)
    using huge = Memfd.create('win-huge', { hugetlb: true, size: 2 * MiB, exec: kernel.features().noexecSeal ? false : undefined })
    const fill = huge.map({ protection: 'rw' })
    new Uint8Array(fill.buffer).fill(9)
    fill.unmap()
    await sendShared(a, sealForSharing(huge))
    const { bytes } = await w.receive(b)
    expect(bytes.byteLength).toBe(2 * MiB)
    expect(bytes[2 * MiB - 1]).toBe(9)
    expect(mapsOf('win-huge')).toEqual(['r--s'])
    using small = share('small', { name: 'win-after-huge' })
    await sendShared(a, small)
    expect(Buffer.from((await w.receive(b)).bytes).toString()).toBe('small')
    expect(mapsOf('win-huge')).toEqual([])
    a.close()
    b.close()
  })
})

describe('receiveSync', () => {
  test('FdChannel#receiveSync returns a message already sent, and one sent by another process while it blocks', async () => {
    const [a, b] = await pair()
    await a.send({ n: 1 })
    expect(b.receiveSync()).toEqual({ header: { n: 1 }, fds: [] })
    a.close()
    b.close()

    // A child sends after 100 ms over a socketpair end it inherited; this thread waits in poll(2)
    // meanwhile (spawn() has forked it before it returns; no event loop turn is needed for it to run).
    const [mine, theirs] = FdChannel.socketpair()
    const channel = FdChannel.adopt(mine)
    const child = spawn('sh', ['-c', `sleep 0.1; printf '\\0\\0\\0\\012{"late":1}' >&3`], { stdio: ['ignore', 'ignore', 'inherit', theirs] })
    closeSync(theirs)
    const t0 = performance.now()
    expect(channel.receiveSync({ timeout: 5000 })).toEqual({ header: { late: 1 }, fds: [] })
    expect(performance.now() - t0).toBeGreaterThan(50) // it waited for the child
    const [code] = (await once(child, 'exit')) as [number]
    expect(code).toBe(0)
    channel.close()
  })

  test('a timeout throws an AbortError whose cause is a TimeoutError; the channel stays usable', async () => {
    const [a, b] = await pair()
    const t0 = performance.now()
    const err = errorOf(() => b.receiveSync({ timeout: 50 })) as Error & { cause?: { name?: string } }
    expect(performance.now() - t0).toBeGreaterThanOrEqual(49)
    expect(err.name).toBe('AbortError')
    expect(err.cause?.name).toBe('TimeoutError')
    await a.send('after')
    expect(b.receiveSync({ timeout: 5000 }).header).toBe('after')
    a.close()
    b.close()
  })

  test('refused while a receive() is pending; the peer closing ends it with ERR_MEMSEAL_CHANNEL_CLOSED', async () => {
    const [a, b] = await pair()
    const pending = b.receive()
    expect(codeOf(() => b.receiveSync())).toBe('ERR_MEMSEAL_BUSY')
    await a.send('to the pending one')
    expect((await pending).header).toBe('to the pending one')
    a.close()
    await settle()
    expect(codeOf(() => b.receiveSync({ timeout: 5000 }))).toBe('ERR_MEMSEAL_CHANNEL_CLOSED')
    b.close()
    expect(codeOf(() => b.receiveSync({ timeout: 'soon' as unknown as number }))).toBe('ERR_INVALID_ARG_TYPE')
  })

  test('receiveSharedSync() and ReceiveWindow#receiveSync map a shared memfd, with the same checks', async () => {
    const { receiveSharedSync } = await import('../lib')
    const [a, b] = await pair()
    using memfd = share('sync hand-off', { name: 'win-sync' })
    await sendShared(a, memfd, { seq: 2 })
    const { header, mapping } = receiveSharedSync(b, { timeout: 5000 })
    expect(header).toEqual({ seq: 2 })
    expect(Buffer.from(mapping.buffer).toString()).toBe('sync hand-off')
    mapping.unmap()

    using w = ReceiveWindow.create(MiB)
    await sendShared(a, memfd, { seq: 3 })
    const shown = w.receiveSync(b, { timeout: 5000 })
    expect(shown.header).toEqual({ seq: 3 })
    expect(Buffer.from(shown.bytes).toString()).toBe('sync hand-off')

    const before = fdCount()
    using unsealed = Memfd.create('win-sync-unsealed', { exec: kernel.features().noexecSeal ? false : undefined })
    unsealed.write('u')
    await sendShared(a, unsealed)
    expect(codeOf(() => w.receiveSync(b, { timeout: 5000 }))).toBe('ERR_MEMSEAL_SEALS_MISSING')
    expect(fdCount()).toBe(before + 1) // the sender's own `unsealed`; the received copy was closed
    expect(Buffer.from(w.bytes).toString()).toBe('sync hand-off')
    a.close()
    b.close()
  })
})
