// native/steps.cc: the seal steps the SHARE clauses run on this thread or in a single-threaded forked
// child. The two cases must really differ in the one way that matters (is the file table shared?), every
// step must report its own answer, bad input must be a TypeError, and nothing the steps make may outlive them.
import { closeSync, ftruncateSync, readdirSync, readFileSync } from 'node:fs'
import { constants as C, native, StepOp } from '../lib/native'

const PAGE = C.PAGE_SIZE

function words(steps: number[][]): Float64Array {
  const w = new Float64Array(steps.length * 5)
  steps.forEach((s, i) => w.set(s, i * 5))
  return w
}

function memfd(): number {
  const fd = native.memfdCreate('file-steps', C.MFD_ALLOW_SEALING | C.MFD_CLOEXEC)
  if (fd < 0) throw new Error(`memfd_create: ${fd}`)
  ftruncateSync(fd, 2 * PAGE)
  return fd
}

/** Children of this process, from /proc (a zombie still counts). */
function children(): number {
  return readdirSync('/proc/self/task')
    .map((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim())
    .filter(Boolean)
    .join(' ')
    .split(' ')
    .filter(Boolean).length
}

const memfdMaps = (): number =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/memfd:file-steps')).length

describe.each([false, true])('fileSteps, forked=%s', (forked) => {
  // The worker's case has threads sharing its file table; a forked child has one thread and its own table.
  test('reports the threads of the process that ran the steps', () => {
    const out = native.fileSteps(words([]), forked)
    expect(out.length).toBe(1)
    if (forked) expect(out[0]).toBe(1)
    else expect(out[0]).toBeGreaterThan(1)
  })

  // Each step answers for itself: an fd from dup, the seals, 0, and -errno where the kernel refuses.
  test('runs the steps in order and reports each answer', () => {
    const fd = memfd()
    try {
      const out = native.fileSteps(
        words([
          [StepOp.Dup, fd],
          [StepOp.AddSeals, -1, C.F_SEAL_WRITE],
          [StepOp.GetSeals, fd],
          [StepOp.Mmap, -1, C.PROT_READ | C.PROT_WRITE, C.MAP_SHARED, PAGE],
          [StepOp.Mmap, -1, C.PROT_READ, C.MAP_PRIVATE, PAGE],
          [StepOp.Munmap, 4],
          [StepOp.ForkIdle],
          [StepOp.Join, 6],
          [StepOp.Reopen, fd, C.O_RDONLY],
          [StepOp.AddSeals, -9, C.F_SEAL_SEAL],
          [StepOp.Close, -1],
          [StepOp.GetSeals, -1],
        ]),
        forked,
      )
      const r = Array.from(out.subarray(1))
      expect(r[0]).toBeGreaterThanOrEqual(0) // dup
      expect(r.slice(1, 3)).toEqual([0, C.F_SEAL_WRITE]) // added through the dup, seen through the original
      expect(r[3]).toBe(-1) // EPERM: a shared writable mapping of a F_SEAL_WRITE memfd
      expect(r.slice(4, 6)).toEqual([0, 0]) // a private mapping, then its munmap
      expect(r[6]).toBeGreaterThan(0) // a child
      expect(r[7]).toBe(0)
      expect(r[8]).toBeGreaterThanOrEqual(0) // the O_RDONLY reopen
      expect(r[9]).toBe(-1) // EPERM: not open for writing
      expect(r[10]).toBe(0) // close of the dup
      expect(r[11]).toBe(-9) // EBADF: the dup is gone
      // The seal is the inode's: this process sees it whichever process added it.
      expect(native.fcntl(fd, C.F_GET_SEALS)).toBe(C.F_SEAL_WRITE)
    } finally {
      closeSync(fd)
    }
  })

  // Whatever the steps made is released before fileSteps returns: fds, mappings, idle children.
  test('leaves no fd, mapping or child behind', () => {
    const fd = memfd()
    try {
      const fds = readdirSync('/proc/self/fd').length
      const maps = memfdMaps()
      const kids = children()
      native.fileSteps(words([[StepOp.Dup, fd], [StepOp.Reopen, fd, C.O_RDWR], [StepOp.Mmap, fd, C.PROT_READ, C.MAP_SHARED, PAGE], [StepOp.ForkIdle]]), forked)
      expect(readdirSync('/proc/self/fd').length).toBe(fds)
      expect(memfdMaps()).toBe(maps)
      expect(children()).toBe(kids)
    } finally {
      closeSync(fd)
    }
  })

  // A step that names no earlier mapping or child, or an unknown operation, is EINVAL, not a crash.
  test('refuses steps that refer to nothing', () => {
    const out = native.fileSteps(words([[StepOp.Munmap, 0], [StepOp.Join, 0], [99]]), forked)
    expect(Array.from(out.subarray(1))).toEqual([-22, -22, -22])
  })
})

// The addon's errors come from Node's own realm, not jest's: compare the name, not the constructor.
test('bad arguments are TypeErrors', () => {
  const call = (steps: unknown, forked: unknown): unknown => native.fileSteps(steps as Float64Array, forked as boolean)
  const nameOf = (f: () => unknown): string | undefined => {
    try {
      f()
    } catch (err) {
      return (err as Error).name
    }
    return undefined
  }
  expect(nameOf(() => call([0, 0, 0, 0, 0], false))).toBe('TypeError')
  expect(nameOf(() => call(new Float64Array(4), false))).toBe('TypeError')
  expect(nameOf(() => call(new Float64Array(5 * 65), false))).toBe('TypeError')
  expect(nameOf(() => call(new Float64Array(5), 1))).toBe('TypeError')
})
