// memfd_create(2) through Memfd.create and the raw flags table.
import { closeSync, fstatSync, ftruncateSync, readFileSync, readlinkSync } from 'node:fs'
import { constants as C, type HugetlbSize, kernel, Memfd, receive, sealForSharing } from '../lib'
import { native } from '../lib/native'
import { codeOf, errorOf } from './helpers'

// A close-on-exec duplicate, as a receiver gets from SCM_RIGHTS with MSG_CMSG_CLOEXEC.
const dupCloexec = (fd: number): number => native.fcntl(fd, C.F_DUPFD_CLOEXEC, 0)

const features = kernel.features()
const itNoexec = features.noexecSeal ? test : test.skip
const noexecNote = features.noexecSeal ? '' : ` (skipped: ${features.probes.noexecSeal.reason})`

function modeOf(fd: number): string {
  return (fstatSync(fd).mode & 0o7777).toString(8).padStart(4, '0')
}

function rawCreate(flags: number): string | undefined {
  const fd = native.memfdCreate('flags-table', flags)
  if (fd < 0) return `-${-fd}`
  fstatSync(fd) // the fd is real
  closeSync(fd)
  return undefined
}

describe('memfd_create flags, raw (errno contract)', () => {
  // Unused bits in flags must be 0 (memfd_create(2), EINVAL "flags included unknown bits").
  test.each`
    desc                           | flags                                  | errno
    ${'none'}                      | ${0}                                   | ${undefined}
    ${'CLOEXEC'}                   | ${C.MFD_CLOEXEC}                       | ${undefined}
    ${'ALLOW_SEALING'}             | ${C.MFD_ALLOW_SEALING}                 | ${undefined}
    ${'CLOEXEC|ALLOW_SEALING'}     | ${C.MFD_CLOEXEC | C.MFD_ALLOW_SEALING} | ${undefined}
    ${'unknown bit 0x100'}         | ${0x100}                               | ${'-22'}
    ${'bit 31'}                    | ${0x80000000}                          | ${'-22'}
    ${'all ones'}                  | ${0xffffffff}                          | ${'-22'}
    ${'huge size without HUGETLB'} | ${21 << C.MFD_HUGE_SHIFT}              | ${'-22'}
  `('memfd_create($desc) → $errno', ({ flags, errno }: { flags: number; errno: string | undefined }) => {
    expect(rawCreate(flags)).toBe(errno)
  })

  // MFD_EXEC and MFD_NOEXEC_SEAL are mutually exclusive (mm/memfd.c), and each alone is accepted.
  itNoexec(`EXEC|NOEXEC_SEAL → EINVAL, each alone → fd${noexecNote}`, () => {
    expect(rawCreate(C.MFD_EXEC | C.MFD_NOEXEC_SEAL)).toBe('-22')
    expect(rawCreate(C.MFD_EXEC)).toBeUndefined()
    expect(rawCreate(C.MFD_NOEXEC_SEAL)).toBeUndefined()
  })
})

describe('Memfd.create', () => {
  // Defaults: MFD_ALLOW_SEALING | MFD_CLOEXEC, size 0, empty seal set.
  test('defaults: sealing and cloexec, empty, no seals', () => {
    using m = Memfd.create('defaults')
    expect(native.fcntl(m.fd, C.F_GETFD) & C.FD_CLOEXEC).toBe(C.FD_CLOEXEC)
    expect(m.size).toBe(0)
    expect(m.sealBits).toBe(0)
    expect(m.seals).toEqual(new Set())
    expect(m.name).toBe('defaults')
    expect(readlinkSync(`/proc/self/fd/${m.fd}`)).toBe('/memfd:defaults (deleted)')
  })

  // Without MFD_ALLOW_SEALING the initial set of seals is F_SEAL_SEAL (memfd_create(2)), with the
  // control that sealing: true gives an empty set.
  // MFD_EXEC where the kernel has it: at vm.memfd_noexec >= 1 a call with neither exec flag is treated
  // as MFD_NOEXEC_SEAL, which implies sealing (mfd_noexec.rst).
  test('sealing: false → seals {seal}; adding fails with EPERM', () => {
    using m = Memfd.create('nosealing', { sealing: false, exec: features.mfdExec ? true : undefined })
    expect(m.seals).toEqual(new Set(['seal']))
    expect(errorOf(() => m.addSeals(['write']))).toMatchObject({ code: 'EPERM', syscall: 'fcntl' })
  })

  // MFD_CLOEXEC off leaves FD_CLOEXEC clear.
  test('cloexec: false → FD_CLOEXEC clear', () => {
    using m = Memfd.create('inherit', { cloexec: false })
    expect(native.fcntl(m.fd, C.F_GETFD) & C.FD_CLOEXEC).toBe(0)
  })

  // size: ftruncate right after creation.
  test('size option sets the size; the fd is O_RDWR', () => {
    using m = Memfd.create('sized', { size: 12345 })
    expect(m.size).toBe(12345)
    expect(native.fcntl(m.fd, C.F_GETFL) & C.O_ACCMODE).toBe(C.O_RDWR)
  })

  // exec: false → MFD_NOEXEC_SEAL: mode 0666 and F_SEAL_EXEC set (mfd_noexec.rst).
  itNoexec(`exec: false → 0666 with the exec seal${noexecNote}`, () => {
    using m = Memfd.create('nx', { exec: false })
    expect(modeOf(m.fd)).toBe('0666')
    expect(m.seals).toEqual(new Set(['exec']))
  })

  // exec: true → MFD_EXEC: mode 0777, no seals.
  itNoexec(`exec: true → 0777, no seals${noexecNote}`, () => {
    using m = Memfd.create('x', { exec: true })
    expect(modeOf(m.fd)).toBe('0777')
    expect(m.sealBits).toBe(0)
  })

  // Names: up to 249 bytes (memfd_create(2)); longer is refused before the call.
  test('a 249-byte name is accepted, 250 bytes is ERR_INVALID_ARG_VALUE', () => {
    using m = Memfd.create('a'.repeat(249))
    expect(m.name.length).toBe(249)
    expect(codeOf(() => Memfd.create('a'.repeat(250)))).toBe('ERR_INVALID_ARG_VALUE')
    expect(codeOf(() => Memfd.create('é'.repeat(125)))).toBe('ERR_INVALID_ARG_VALUE') // 250 bytes in UTF-8
    expect(codeOf(() => Memfd.create('nul\0inside'))).toBe('ERR_INVALID_ARG_VALUE')
  })

  // The empty name is valid (memfd_test.c test_create).
  test('the empty name is valid', () => {
    using m = Memfd.create('')
    expect(readlinkSync(`/proc/self/fd/${m.fd}`)).toBe('/memfd: (deleted)')
  })
})

describe('hugetlb', () => {
  const pools = kernel.environment().hugetlbPools
  const pool2M = pools.find((p) => p.pageSize === 2 << 20)
  const itHuge = features.hugetlb ? test : test.skip
  const poolReady = pool2M !== undefined && pool2M.free > 0
  const itPool = poolReady ? test : test.skip
  const noPool = poolReady
    ? ''
    : ` (skipped: no free 2 MiB hugetlb page (${pool2M ? `${pool2M.free} free of ${pool2M.total}` : 'no 2 MiB pool'}); reserve with: echo 2 > /proc/sys/vm/nr_hugepages)`

  // MFD_HUGETLB creates the file on hugetlbfs; no reserved page is needed to create it.
  itHuge(`hugetlb: true creates a memfd${features.hugetlb ? '' : ` (skipped: ${features.probes.hugetlb.reason})`}`, () => {
    using m = Memfd.create('huge', { hugetlb: true, exec: features.noexecSeal ? false : undefined })
    expect(readlinkSync(`/proc/self/fd/${m.fd}`)).toBe('/memfd:huge (deleted)')
    expect(m.hugePageSize).toBe(fstatSync(m.fd).blksize)
  })

  // hugetlbfs sizes must be multiples of the huge page size: the kernel says a bare EINVAL, memseal
  // refuses first with a RangeError naming the page size; a multiple is the allowed control.
  itHuge(
    `a size that is not a multiple of the huge page size → ERR_OUT_OF_RANGE before the syscall${features.hugetlb ? '' : ` (skipped: ${features.probes.hugetlb.reason})`}`,
    () => {
      using m = Memfd.create('huge-size-check', { hugetlb: true })
      const huge = m.hugePageSize
      expect(errorOf(() => ftruncateSync(m.fd, 4096))).toMatchObject({ code: 'EINVAL', syscall: 'ftruncate' }) // the kernel's answer
      const err = errorOf(() => m.resize(4096))
      expect([err.code, err.message.includes(String(huge)), err instanceof RangeError]).toEqual(['ERR_OUT_OF_RANGE', true, true])
      expect(errorOf(() => Memfd.create('huge-size-check', { hugetlb: true, size: huge + 4096 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' })
      m.resize(2 * huge)
      expect(m.size).toBe(2 * huge)
      m.resize(0)
    },
  )

  // A mapping needs huge pages from the pool; with too few, mmap(2) says ENOMEM and nothing more: the
  // error keeps that code and says which pool ran dry and how to reserve pages. The control maps one page.
  itPool(`an empty hugetlb pool: ENOMEM from mmap, with the pool named in the message${noPool}`, () => {
    using m = Memfd.create('huge-enomem', { hugetlb: '2MB' })
    m.resize((pool2M!.total + 1) * (2 << 20)) // more than the whole pool: no page is allocated by ftruncate
    const err = errorOf(() => m.map({ protection: 'rw' }))
    expect({ code: err.code, syscall: err.syscall }).toEqual({ code: 'ENOMEM', syscall: 'mmap' })
    expect(err.message).toMatch(/hugetlb pool of 2048 kB pages.*nr_hugepages.*free_hugepages.*sysctl vm\.nr_hugepages=N/)
    using one = m.map({ protection: 'r', length: 2 << 20 })
    expect(one.length).toBe(2 << 20)
  })

  // An unsupported huge page size is refused by the kernel (ENODEV, undocumented in memfd_create(2)).
  itHuge('hugetlb: "16GB" on x86-64 without that size → ENODEV', () => {
    if (features.hugetlbSizes.includes(16 * 2 ** 30)) return // the machine has 16 GiB pages: nothing to refuse
    expect(errorOf(() => Memfd.create('huge16g', { hugetlb: '16GB' }))).toMatchObject({ code: 'ENODEV', syscall: 'memfd_create' })
  })

  // A mapping needs pages in the pool.
  itPool(`2MB pages: map and write${noPool}`, () => {
    using m = Memfd.create('huge2m', { hugetlb: '2MB', size: 2 << 20 })
    using view = m.map({ protection: 'rw' })
    new Uint8Array(view.buffer)[0] = 7
    expect(new Uint8Array(view.buffer)[0]).toBe(7)
  })

  // The hand-off of a hugetlb memfd: it lives on hugetlbfs, not shmem, and is still a memfd to verify.
  itHuge('a sealed hugetlb memfd passes Memfd.from; without the seals it is refused', () => {
    using m = Memfd.create('huge-share', { hugetlb: true, exec: features.noexecSeal ? false : undefined })
    m.resize(2 << 20)
    const unsealed = dupCloexec(m.fd)
    try {
      expect(codeOf(() => Memfd.from(unsealed, { require: ['shrink', 'write'] }))).toBe('ERR_MEMSEAL_SEALS_MISSING')
    } finally {
      closeSync(unsealed) // on failure the caller keeps the fd
    }
    sealForSharing(m)
    using received = Memfd.from(dupCloexec(m.fd), { require: ['shrink', 'write'], maxSize: 2 << 20 })
    expect([...received.seals]).toEqual(expect.arrayContaining(['shrink', 'grow', 'write', 'seal']))
    expect(fstatSync(received.fd).size).toBe(2 << 20)
  })

  // Each huge page size has its own internal hugetlbfs mount (and device number): a memfd of any of them
  // is a memfd to Memfd.from, not only one of the default size. Creating one needs no pool.
  const sizeName = (b: number): string => (b >= 2 ** 30 ? `${b / 2 ** 30}GB` : b >= 2 ** 20 ? `${b / 2 ** 20}MB` : `${b / 1024}KB`)
  itHuge(`Memfd.from accepts a hugetlb memfd of every huge page size the kernel has (${features.hugetlbSizes.map(sizeName).join(', ')})`, () => {
    for (const size of features.hugetlbSizes) {
      using m = Memfd.create('huge-size', { hugetlb: sizeName(size) as HugetlbSize })
      using received = Memfd.from(dupCloexec(m.fd))
      expect([received.name, fstatSync(received.fd).blksize]).toEqual(['huge-size', size])
    }
  })

  itPool(`receive() maps a sealed hugetlb memfd read-only and reads what the producer wrote${noPool}`, () => {
    using m = Memfd.create('huge-rx', { hugetlb: '2MB', size: 2 << 20, exec: features.noexecSeal ? false : undefined })
    m.addSeals(['shrink'])
    const writable = m.map({ protection: 'rw' })
    // Refused: a read-only consumer's default requires the write seal too. Allowed: shrink alone, asked for.
    expect(codeOf(() => receive(m.fd, { borrow: true }))).toBe('ERR_MEMSEAL_SEALS_MISSING')
    using live = receive(m.fd, { borrow: true, require: ['shrink'] })
    new Uint8Array(writable.buffer).fill(0x5a, 0, 4096)
    expect(new Uint8Array(live.buffer)[4095]).toBe(0x5a) // the same huge page, not a copy
    // F_SEAL_WRITE needs no shared mapping that could become writable: the read-only view of an fd opened
    // for writing counts too (VM_MAYWRITE), so both go before the seal.
    writable.unmap()
    live.unmap()
    sealForSharing(m)
    using sealed = receive(m.fd, { borrow: true })
    expect(sealed.length).toBe(2 << 20)
    expect([new Uint8Array(sealed.buffer)[0], new Uint8Array(sealed.buffer)[4096]]).toEqual([0x5a, 0])
  })

  // The kernel maps a hugetlbfs file in whole huge pages and refuses (EINVAL) to unmap less: a mapping
  // shorter than a huge page must still unmap, after unmap() and after a remap(), leaving no VMA behind.
  itPool(`a hugetlb mapping shorter than its huge page unmaps whole, also after a remap${noPool}`, () => {
    using m = Memfd.create('huge-short', { hugetlb: '2MB', size: 4 << 20, exec: features.noexecSeal ? false : undefined })
    const vmas = () =>
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((l) => l.includes('/memfd:huge-short')).length
    const short = m.map({ protection: 'rw', length: 4096 })
    expect([short.length, vmas()]).toEqual([4096, 1])
    new Uint8Array(short.buffer)[4095] = 9
    short.unmap()
    expect([short.mapped, short.buffer.byteLength, vmas()]).toEqual([false, 0, 0])

    // Refused: mremap(2) does not grow hugetlb mappings; the mapping is left as it was.
    const grows = m.map({ protection: 'r', length: 4096 })
    expect(errorOf(() => grows.remap((2 << 20) + 4096))).toMatchObject({ code: 'EINVAL', syscall: 'mremap' })
    expect([grows.length, new Uint8Array(grows.buffer)[4095]]).toEqual([4096, 9])
    grows.unmap()
    // Allowed: shrinking two huge pages to a few bytes keeps one huge page, which unmap() then removes.
    const shrinks = m.map({ protection: 'r' })
    shrinks.remap(4096)
    expect([shrinks.length, new Uint8Array(shrinks.buffer)[4095], vmas()]).toEqual([4096, 9, 1])
    shrinks.unmap()
    expect(vmas()).toBe(0)
  })

  test('hugetlb option values are validated', () => {
    expect(codeOf(() => Memfd.create('h', { hugetlb: '3MB' as never }))).toBe('ERR_INVALID_ARG_VALUE')
    expect(codeOf(() => Memfd.create('h', { hugetlb: 'big' as never }))).toBe('ERR_INVALID_ARG_VALUE')
    expect(codeOf(() => Memfd.create('h', { hugetlb: false as never }))).toBe('ERR_INVALID_ARG_VALUE')
  })
})
