// Bad input for every public function: a typed error with Node's code, never a crash, nothing leaked.
import { kernel, Mapping, Memfd } from '../lib'
import { native } from '../lib/native'
import { codeOf, fdCount } from './helpers'

const PAGE = kernel.environment().pageSize
const TYPE = 'ERR_INVALID_ARG_TYPE'
const RANGE = 'ERR_OUT_OF_RANGE'
const VALUE = 'ERR_INVALID_ARG_VALUE'
type Case = [string, () => unknown, string]

// Values of the wrong type, negative, fractional, huge and out of range, for every integer argument.
function integerCases(label: string, call: (v: never) => unknown, max?: number): Case[] {
  const cases: Case[] = [
    [`${label}: string`, () => call('1' as never), TYPE],
    [`${label}: null`, () => call(null as never), TYPE],
    [`${label}: bigint`, () => call(1n as never), TYPE],
    [`${label}: object`, () => call({} as never), TYPE],
    [`${label}: negative`, () => call(-1 as never), RANGE],
    [`${label}: fractional`, () => call(1.5 as never), RANGE],
    [`${label}: NaN`, () => call(NaN as never), RANGE],
    [`${label}: Infinity`, () => call(Infinity as never), RANGE],
    [`${label}: 2^60`, () => call((2 ** 60) as never), RANGE],
  ]
  if (max !== undefined) cases.push([`${label}: max + 1`, () => call((max + 1) as never), RANGE])
  return cases
}

const memfd = Memfd.create('validation', { size: 4 * PAGE })
const closed = Memfd.create('closed')
closed.close()
const view = Mapping.anonymous(4 * PAGE)
const unmapped = Mapping.anonymous(PAGE)
unmapped.unmap()

afterAll(() => {
  view.unmap()
  memfd.close()
})

const cases: Case[] = [
  // Memfd.create
  ['create: name number', () => Memfd.create(1 as never), TYPE],
  ['create: name null', () => Memfd.create(null as never), TYPE],
  ['create: name too long', () => Memfd.create('n'.repeat(250)), VALUE],
  ['create: options not an object', () => Memfd.create('x', 'sealing' as never), TYPE],
  ['create: options array', () => Memfd.create('x', [] as never), TYPE],
  ['create: misspelt option', () => Memfd.create('x', { seling: true } as never), VALUE],
  ['create: sealing not boolean', () => Memfd.create('x', { sealing: 1 as never }), TYPE],
  ['create: exec not boolean', () => Memfd.create('x', { exec: 'no' as never }), TYPE],
  ['create: cloexec not boolean', () => Memfd.create('x', { cloexec: null as never }), TYPE],
  ['create: hugetlb bad size', () => Memfd.create('x', { hugetlb: '3MB' as never }), VALUE],
  ...integerCases('create: size', (v) => Memfd.create('x', { size: v })),
  // Memfd.from
  ...integerCases('from: fd', (v) => Memfd.from(v), 0x7fffffff),
  ['from: misspelt option', () => Memfd.from(memfd.fd, { requires: ['shrink'] } as never), VALUE],
  ['from: require bad name', () => Memfd.from(memfd.fd, { require: ['shrinks' as never] }), VALUE],
  ['from: require bad type', () => Memfd.from(memfd.fd, { require: 'shrink' as never }), TYPE],
  ...integerCases('from: maxSize', (v) => Memfd.from(memfd.fd, { maxSize: v })),
  ['from: stdin is not a memfd', () => Memfd.from(0), 'ERR_MEMSEAL_NOT_MEMFD'],
  ['from: closed fd number', () => Memfd.from(0x7ffffff0), 'EBADF'],
  // Memfd methods
  ...integerCases('resize', (v) => memfd.resize(v)),
  ['write: number', () => memfd.write(5 as never), TYPE],
  ['write: plain array', () => memfd.write([1, 2] as never), TYPE],
  ...integerCases('write: offset', (v) => memfd.write('x', v)),
  ...integerCases('read: length', (v) => memfd.read(v), 0x7fffffff),
  ...integerCases('read: offset', (v) => memfd.read(1, v)),
  ['addSeals: a string', () => memfd.addSeals('write' as never), TYPE],
  ['addSeals: unknown name', () => memfd.addSeals(['sael' as never]), VALUE],
  ['addSeals: negative mask', () => memfd.addSeals(-1), VALUE],
  ['addSeals: fractional mask', () => memfd.addSeals(1.5), VALUE],
  ['addSeals: 2^32', () => memfd.addSeals(2 ** 32), VALUE],
  ['map: bad protection', () => memfd.map({ protection: 'wx' as never }), VALUE],
  ['map: protection type', () => memfd.map({ protection: 7 as never }), TYPE],
  ['map: shared type', () => memfd.map({ shared: 'yes' as never }), TYPE],
  ['map: unaligned offset', () => memfd.map({ offset: 100 }), VALUE],
  ['map: zero length', () => memfd.map({ length: 0 }), RANGE],
  ['map: misspelt option', () => memfd.map({ lenght: PAGE } as never), VALUE],
  ...integerCases('map: length', (v) => memfd.map({ length: v })),
  ...integerCases('map: offset', (v) => memfd.map({ offset: v })),
  // a closed Memfd
  ['closed: fd', () => closed.fd, 'ERR_MEMSEAL_CLOSED'],
  ['closed: size', () => closed.size, 'ERR_MEMSEAL_CLOSED'],
  ['closed: resize', () => closed.resize(1), 'ERR_MEMSEAL_CLOSED'],
  ['closed: write', () => closed.write('x'), 'ERR_MEMSEAL_CLOSED'],
  ['closed: read', () => closed.read(), 'ERR_MEMSEAL_CLOSED'],
  ['closed: seals', () => closed.seals, 'ERR_MEMSEAL_CLOSED'],
  ['closed: sealBits', () => closed.sealBits, 'ERR_MEMSEAL_CLOSED'],
  ['closed: addSeals', () => closed.addSeals(['seal']), 'ERR_MEMSEAL_CLOSED'],
  ['closed: map', () => closed.map(), 'ERR_MEMSEAL_CLOSED'],
  // Mapping.anonymous
  ...integerCases('anonymous: length', (v) => Mapping.anonymous(v)),
  ['anonymous: zero length', () => Mapping.anonymous(0), RANGE],
  ['anonymous: bad protection', () => Mapping.anonymous(PAGE, { protection: 'x' as never }), VALUE],
  ['anonymous: misspelt option', () => Mapping.anonymous(PAGE, { protect: 'r' } as never), VALUE],
  ['anonymous: shared type', () => Mapping.anonymous(PAGE, { shared: 0 as never }), TYPE],
  // Mapping methods (none of these reaches mseal: arguments are refused first)
  ['protect: bad name', () => view.protect('rwxs' as never), VALUE],
  ['protect: unaligned offset', () => view.protect('r', 1), VALUE],
  ['protect: beyond the end', () => view.protect('r', 0, 5 * PAGE), RANGE],
  ...integerCases('protect: offset', (v) => view.protect('r', v), 4 * PAGE),
  ...integerCases('protect: length', (v) => view.protect('r', 0, v), 4 * PAGE),
  ['advise: unknown advice', () => view.advise('forget' as never), VALUE],
  ['advise: beyond the end', () => view.advise('normal', PAGE, 4 * PAGE), RANGE],
  ['seal: unaligned offset', () => view.seal(7), VALUE],
  ['seal: beyond the end', () => view.seal(0, 5 * PAGE), RANGE],
  ...integerCases('seal: offset', (v) => view.seal(v), 4 * PAGE),
  ['probe: unknown access', () => view.probe(0, 'jump' as never), VALUE],
  ...integerCases('probe: offset', (v) => view.probe(v, 'read'), 4 * PAGE - 1),
  ...integerCases('remap: length', (v) => view.remap(v)),
  ['remap: misspelt option', () => view.remap(PAGE, { maymove: true } as never), VALUE],
  ['unmapped: protect', () => unmapped.protect('r'), 'ERR_MEMSEAL_UNMAPPED'],
  ['unmapped: advise', () => unmapped.advise('normal'), 'ERR_MEMSEAL_UNMAPPED'],
  ['unmapped: seal', () => unmapped.seal(), 'ERR_MEMSEAL_UNMAPPED'],
  ['unmapped: remap', () => unmapped.remap(PAGE), 'ERR_MEMSEAL_UNMAPPED'],
  ['unmapped: probe', () => unmapped.probe(0, 'read'), 'ERR_MEMSEAL_UNMAPPED'],
]

test.each(cases)('%s → %s', (_label, call, code) => {
  const fds = fdCount()
  const live = native.liveMappings()
  expect(codeOf(call)).toBe(code)
  expect(fdCount()).toBe(fds)
  expect(native.liveMappings()).toBe(live)
})

// The error classes are the ones Node uses for each code.
test('error classes', () => {
  const err = (fn: () => unknown) => {
    try {
      fn()
    } catch (e) {
      return e as Error
    }
    throw new Error('no throw')
  }
  expect(err(() => Memfd.create(1 as never))).toBeInstanceOf(TypeError)
  expect(err(() => Memfd.create('x', { size: -1 }))).toBeInstanceOf(RangeError)
  expect(err(() => Memfd.create('x', { seling: true } as never))).toBeInstanceOf(TypeError)
  expect(String(err(() => Memfd.create(1 as never)))).toMatch(/^TypeError \[ERR_INVALID_ARG_TYPE\]: The "name" argument must be of type string/)
  expect(err(() => Memfd.create('x', { seling: true } as never)).message).toMatch(/did you mean "sealing"/)
})

// The native surface guards its own arguments: a wrong call throws a TypeError, it does not crash.
test.each([
  ['mmap with a string length', () => native.mmap('x' as never, 1, 2, -1, 0)],
  ['probe of null', () => native.probe(null as never, 0, 0)],
  ['raw.peek of a number', () => native.raw.peek(5 as never, 0, 1)],
  ['fcntl with a fractional fd', () => native.fcntl(1.5, 1)],
  ['memfdCreate with an object name', () => native.memfdCreate({} as never, 0)],
  ['execveat without argv', () => native.execveat(0, undefined as never)],
])('native: %s → TypeError', (_label, call) => {
  // Errors made by the addon belong to Node's own realm, not jest's sandbox: compare by name.
  let thrown: unknown
  try {
    call()
  } catch (err) {
    thrown = err
  }
  expect((thrown as Error | undefined)?.name).toBe('TypeError')
  expect((thrown as Error).message).toMatch(/^argument \d must be/)
})

// Returned -errno for an ArrayBuffer that is not a mapping: EBADF, not a crash.
test('native: munmap of an ordinary ArrayBuffer → -EBADF', () => {
  expect(native.munmap(new ArrayBuffer(8))).toBe(-9)
  expect(native.munmap({} as never)).toBe(-9)
  expect(native.mprotect(new ArrayBuffer(8), 0, 8, 1)).toBe(-9)
})
