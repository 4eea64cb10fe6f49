// File seals through Memfd: each seal's refused operation beside its allowed control.
import { fstatSync, fchmodSync } from 'node:fs'
import { kernel, Memfd } from '../lib'
import { codeOf, errorOf } from './helpers'

const features = kernel.features()
const PAGE = kernel.environment().pageSize

function sealed(seals: Parameters<Memfd['addSeals']>[0], size = 2 * PAGE): Memfd {
  const m = Memfd.create('sealed', { size, exec: features.noexecSeal ? false : undefined })
  m.write(Buffer.alloc(size, 0x41))
  m.addSeals(seals)
  return m
}

describe('F_SEAL_SHRINK', () => {
  // "the file in question cannot be reduced in size" (F_ADD_SEALS(2const)) …
  test('resize smaller → EPERM (ftruncate)', () => {
    using m = sealed(['shrink'])
    expect(errorOf(() => m.resize(PAGE))).toMatchObject({ code: 'EPERM', syscall: 'ftruncate' })
    expect(m.size).toBe(2 * PAGE)
  })
  // … "Increasing the file size is still possible."
  test('control: resize larger works', () => {
    using m = sealed(['shrink'])
    m.resize(4 * PAGE)
    expect(m.size).toBe(4 * PAGE)
  })
})

describe('F_SEAL_GROW', () => {
  // "the size of the file in question cannot be increased": ftruncate and write beyond EOF fail.
  test('resize larger → EPERM; write at EOF → EPERM', () => {
    using m = sealed(['grow'])
    expect(errorOf(() => m.resize(3 * PAGE))).toMatchObject({ code: 'EPERM', syscall: 'ftruncate' })
    expect(errorOf(() => m.write('x', 2 * PAGE))).toMatchObject({ code: 'EPERM', syscall: 'write' })
  })
  // "If you keep the size or shrink it, those calls still work as expected."
  test('control: write inside and shrink work', () => {
    using m = sealed(['grow'])
    expect(m.write('yz', 10)).toBe(2)
    m.resize(PAGE)
    expect(m.size).toBe(PAGE)
  })
})

describe('F_SEAL_WRITE', () => {
  // "you cannot modify the contents of the file": write(2) fails with EPERM …
  test('write → EPERM, contents unchanged', () => {
    using m = sealed(['write'])
    expect(errorOf(() => m.write('B'))).toMatchObject({ code: 'EPERM', syscall: 'write' })
    expect(m.read(1).toString()).toBe('A')
  })
  // … "trying to create new shared, writable memory-mappings via mmap(2) will also fail with EPERM".
  test('map rw shared → EPERM; control: rw private works and does not change the file', () => {
    using m = sealed(['write'])
    expect(errorOf(() => m.map({ protection: 'rw' }))).toMatchObject({ code: 'EPERM', syscall: 'mmap' })
    using priv = m.map({ protection: 'rw', shared: false })
    new Uint8Array(priv.buffer)[0] = 0x5a
    expect(m.read(1).toString()).toBe('A')
  })
  // "fails with EBUSY if any writable, shared mapping exists"; after munmap the seal can be added.
  test('adding it while a rw shared mapping exists → EBUSY; control: after unmap it works', () => {
    using m = Memfd.create('busy', { size: PAGE })
    const view = m.map({ protection: 'rw' })
    expect(errorOf(() => m.addSeals(['write']))).toMatchObject({ code: 'EBUSY', syscall: 'fcntl' })
    expect(m.sealBits).toBe(0)
    view.unmap()
    m.addSeals(['write'])
    expect(m.seals.has('write')).toBe(true)
  })
})

describe('F_SEAL_FUTURE_WRITE', () => {
  const it = features.futureWrite ? test : test.skip
  const note = features.futureWrite ? '' : ` (skipped: ${features.probes.futureWrite.reason})`
  // "the contents of the file can still be modified via shared writable mappings that were created prior
  // to the seal", while write(2) and new writable shared mappings fail with EPERM.
  it(`existing rw mapping keeps writing; write() and new rw mappings → EPERM${note}`, () => {
    using m = Memfd.create('fw', { size: PAGE })
    using view = m.map({ protection: 'rw' })
    m.addSeals(['future-write'])
    new Uint8Array(view.buffer)[0] = 0x31
    expect(m.read(1).toString()).toBe('1')
    expect(errorOf(() => m.write('2'))).toMatchObject({ code: 'EPERM', syscall: 'write' })
    expect(errorOf(() => m.map({ protection: 'rw' }))).toMatchObject({ code: 'EPERM', syscall: 'mmap' })
    using ro = m.map({ protection: 'r' })
    expect(new Uint8Array(ro.buffer)[0]).toBe(0x31)
  })
})

describe('F_SEAL_EXEC', () => {
  const it = features.sealExec && features.mfdExec ? test : test.skip
  const note = it === test ? '' : ` (skipped: ${features.probes.sealExec.reason ?? features.probes.mfdExec.reason ?? ''})`
  // "Attempting to change the execute mode bits via fchmod(2) … will fail with EPERM"; on an executable
  // file it also adds the write seals (the implied seals; the code does so only when x bits are set).
  it(`on a 0777 memfd: implies grow/shrink/write/future-write; chmod → EPERM${note}`, () => {
    using m = Memfd.create('x', { exec: true })
    m.addSeals(['exec'])
    expect(m.seals).toEqual(new Set(['exec', 'shrink', 'grow', 'write', 'future-write']))
    expect(codeOf(() => fchmodSync(m.fd, 0o666))).toBe('EPERM')
    expect(fstatSync(m.fd).mode & 0o777).toBe(0o777)
  })
  // Control: before the seal, chmod works.
  it(`control: chmod works before the seal${note}`, () => {
    using m = Memfd.create('x', { exec: true })
    fchmodSync(m.fd, 0o644)
    expect(fstatSync(m.fd).mode & 0o777).toBe(0o644)
  })
})

describe('F_SEAL_SEAL', () => {
  // "further calls to fcntl() with F_ADD_SEALS fail with the error EPERM"; before it, adding works.
  test('after seal, adding any seal → EPERM; control: before it, adding works', () => {
    using m = Memfd.create('ss')
    m.addSeals(['shrink'])
    m.addSeals(['seal'])
    expect(errorOf(() => m.addSeals(['grow']))).toMatchObject({ code: 'EPERM', syscall: 'fcntl' })
    expect(errorOf(() => m.addSeals(0))).toMatchObject({ code: 'EPERM', syscall: 'fcntl' })
    expect(m.seals).toEqual(new Set(['shrink', 'seal']))
  })
})

describe('seal sets', () => {
  // sealBits is the raw F_GET_SEALS mask; seals is its names.
  test('bits and names agree; raw masks are accepted', () => {
    using m = Memfd.create('bits')
    m.addSeals(0x2 | 0x4)
    expect(m.sealBits).toBe(0x6)
    expect(m.seals).toEqual(new Set(['shrink', 'grow']))
  })
  // An unknown bit is the kernel's to refuse (EINVAL), a misspelt name is ours (ERR_INVALID_ARG_VALUE).
  test('unknown raw bit → EINVAL; unknown name → ERR_INVALID_ARG_VALUE', () => {
    using m = Memfd.create('bad')
    expect(errorOf(() => m.addSeals(0x40))).toMatchObject({ code: 'EINVAL', syscall: 'fcntl', errno: -22 })
    expect(codeOf(() => m.addSeals(['wrtie' as never]))).toBe('ERR_INVALID_ARG_VALUE')
  })
})
