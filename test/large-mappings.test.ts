// Mappings larger than one ArrayBuffer (the runtime's limit: buffer.constants.MAX_LENGTH, 4 GiB in Node 18
// and 20) work through windows, and `buffer` names the limit instead of crashing. The scenarios run in a
// child process (test/fixtures/large-mappings.js): a build that crashed on them must fail here, not kill jest.
import { constants as bufferConstants } from 'node:buffer'
import { Mapping } from '../lib'
import { runFixture } from './helpers'

const GiB = 2 ** 30
const LIMIT = bufferConstants.MAX_LENGTH
// Above the limit `buffer` throws; at or below it, it is the whole mapping (Node 22 raised it to 2^53 - 1).
const tooLarge = (length: number) => (length > LIMIT ? 'ERR_MEMSEAL_BUFFER_TOO_LARGE' : 'ok')

test('the limit is the runtime buffer limit', () => {
  expect(Mapping.maxViewLength).toBe(LIMIT)
})

test('mappings over 4 GiB (anonymous, memfd, remap, received from a peer): windows work, nothing crashes', () => {
  const r = runFixture('large-mappings')
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' })
  const out = JSON.parse(r.stdout) as Record<string, unknown>
  expect(out).toEqual({
    limit: LIMIT,
    anonLength: 2 ** 32 + 1,
    // `buffer` cannot be one ArrayBuffer: a typed error that names the limit (the allowed control below is
    // a mapping of exactly the limit).
    anonBuffer: tooLarge(2 ** 32 + 1) === 'ok' ? { namesLimit: false } : { code: 'ERR_MEMSEAL_BUFFER_TOO_LARGE', namesLimit: true },
    // A window over the last page and the byte past 4 GiB: written through one window, read through another.
    anonTail: { byteLength: 4097, roundTrip: 0x5a },
    anonTooLong: 'ERR_OUT_OF_RANGE',
    anonPastEnd: 'ERR_OUT_OF_RANGE',
    anonProbe: ['ok', 'SIGSEGV'],
    // unmap() detaches every window: none can reach the pages any more.
    anonAfterUnmap: { tail: 0, length: 0, view: 'ERR_MEMSEAL_UNMAPPED' },
    exactBuffer: LIMIT <= 2 ** 40 ? LIMIT : 'beyond the address space',
    memfdWhole: { length: 8 * GiB, buffer: tooLarge(8 * GiB), roundTrip: 0x21 },
    memfdRead: 0x21,
    memfdPart: 8 * GiB,
    remapped: { length: 8 * GiB, last: 0x21 },
    remappedBack: 4096,
    received: { length: 8 * GiB, last: 0x21 },
    receivedShared: { header: { name: 'large' }, length: 8 * GiB, last: 0x21 },
    live: 0,
  })
})
