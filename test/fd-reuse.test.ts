// Descriptor reuse: a Memfd's number closed behind memseal's back (fs.closeSync(m.fd)) and handed to
// another file by the next open() must never act on that other file. Every operation that writes,
// resizes, seals, reads or maps first checks the descriptor's identity (st_dev, st_ino) against the one
// recorded at creation; a mismatch, or a closed number, is ERR_MEMSEAL_CLOSED and the Memfd counts as
// closed from then on. The cost of the check is measured in bench/ (scenario identity-check).
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Memfd } from '../lib'
import { constants, native } from '../lib/native'
import { codeOf } from './helpers'

const PAGE = constants.PAGE_SIZE
const OTHER = 'the other file: never to be touched by memseal\n'

let dir: string
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'memseal-reuse-'))))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const operations: Array<[string, (m: Memfd) => unknown]> = [
  ['write', (m) => m.write('overwritten!')],
  ['resize', (m) => m.resize(3)],
  ['read', (m) => m.read()],
  ['map', (m) => m.map({ protection: 'r' })],
  ['addSeals', (m) => m.addSeals(['grow'])],
  ['size', (m) => m.size],
]

// Refused: with the number reused, each operation throws and the other file keeps its contents and size.
test.each(operations)('%s after the descriptor number was reused by another file → ERR_MEMSEAL_CLOSED, that file untouched', (_name, op) => {
  const path = join(dir, `other-${_name}`)
  writeFileSync(path, OTHER)
  const m = Memfd.create('reuse', { size: PAGE })
  m.write('mine')
  const fd = m.fd
  closeSync(fd) // someone closes it behind memseal's back …
  const other = openSync(path, 'r+') // … and the number goes to another file
  try {
    expect(other).toBe(fd)
    const live = native.liveMappings()
    expect(codeOf(() => op(m))).toBe('ERR_MEMSEAL_CLOSED')
    expect({ text: readFileSync(path, 'utf8'), size: statSync(path).size, live: native.liveMappings() }).toEqual({ text: OTHER, size: OTHER.length, live })
    expect(m.closed).toBe(true)
    m.close() // and close() leaves the new owner's descriptor open
    expect(native.fcntl(other, constants.F_GETFD)).toBeGreaterThanOrEqual(0)
  } finally {
    closeSync(other)
  }
})

// Refused too: the number closed and not reused (the kernel would say EBADF; memseal says why).
test.each(operations)('%s after the descriptor was closed outside memseal → ERR_MEMSEAL_CLOSED', (_name, op) => {
  const m = Memfd.create('closed-outside', { size: PAGE })
  closeSync(m.fd)
  expect(codeOf(() => op(m))).toBe('ERR_MEMSEAL_CLOSED')
  expect(m.closed).toBe(true)
})

// Allowed: on its own descriptor every operation works (the control of both tables).
test.each(operations)('%s on the memfd itself works', (_name, op) => {
  using m = Memfd.create('intact', { size: PAGE })
  const result = op(m)
  if (result && typeof result === 'object' && 'unmap' in result) (result as { unmap(): void }).unmap()
  expect(m.closed).toBe(false)
})

// Reused by another memfd: the same number, the same kind of file, still not ours.
test('a number reused by another memfd is not taken for ours', () => {
  const m = Memfd.create('first', { size: PAGE })
  const fd = m.fd
  closeSync(fd)
  using second = Memfd.create('second', { size: 2 * PAGE })
  expect(second.fd).toBe(fd)
  expect(codeOf(() => m.write('x'))).toBe('ERR_MEMSEAL_CLOSED')
  expect(codeOf(() => m.resize(0))).toBe('ERR_MEMSEAL_CLOSED')
  expect([second.size, second.read(1)[0]]).toEqual([2 * PAGE, 0])
})
