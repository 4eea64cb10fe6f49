// mseal(2) through Mapping#seal, always in a child process (sealed memory stays until exit).
import { Mapping, kernel } from '../lib'
import { native } from '../lib/native'
import { fixtureJson } from './helpers'

const { mseal: available, probes } = kernel.features()
const it = available ? test : test.skip
const { pageSize } = kernel.environment()

describe('Mapping#seal', () => {
  // "munmap … mprotect … mremap … are blocked" (mseal.rst): unmap() throws EPERM and the buffer stays
  // valid; a control mapping that is not sealed allows both.
  it(`sealed: unmap/protect/remap → EPERM, buffer still valid; control allows them${available ? '' : ` (skipped: ${probes.mseal.reason})`}`, () => {
    const r = fixtureJson('mseal-view')
    expect(r).toEqual({
      seal: 'ok',
      sealedFlag: true,
      sealAgain: 'ok',
      unmap: 'EPERM/munmap',
      byteLengthAfterUnmap: 4 * kernel.environment().pageSize,
      readAfterUnmap: 9,
      protect: 'EPERM/mprotect',
      remap: 'EPERM/mremap',
      dispose: 'ok',
      writeProbe: 'ok',
      controlProtect: 'ok',
      controlUnmap: 'ok',
      fileSeal: 'ok',
      fileSeen: 'W',
    })
  })
})

// The conformance suite's forked-child scenarios (native/mseal_scenarios.cc): the child does the sealing,
// this process only reads what it reported. Each call comes back with its matched arguments and result.
describe('mseal scenarios in forked children', () => {
  // mseal.rst: "the brk-shrink will call munmap()", which a seal refuses: the break stays at the top.
  it('brk shrinking over a sealed page: every call reported, the break refused; unsealed it moves', () => {
    const sealed = native.msealScenario('brk-shrink', true)
    const plain = native.msealScenario('brk-shrink', false)
    if (typeof sealed === 'number' || typeof plain === 'number') throw new Error(`no child: ${JSON.stringify([sealed, plain])}`)
    expect(sealed.calls.map((c) => `${c.syscall}=${c.ret}`)).toEqual(['brk=0', 'brk=0', 'mseal=0', 'brk=0'])
    expect(sealed.calls[2]!.args).toEqual([0])
    expect(sealed).toMatchObject({ signal: 0, exit: 0, facts: { grown: 1, sealed: 1, break: 1, topMapped: 1, bottomMapped: 1 } })
    expect(plain).toMatchObject({ signal: 0, exit: 0, facts: { grown: 1, break: 0, topMapped: 0, bottomMapped: 0 } })
  })

  // A forked child unmaps an inherited range, named by region and offset (no address reaches JavaScript):
  // its munmap's result and that the range is gone in the child, while this process keeps it.
  it('child-munmap: the child unmaps its copy of the range, the caller keeps its own', () => {
    const m = Mapping.anonymous(2 * pageSize, { protection: 'r' })
    try {
      const r = native.msealScenario('child-munmap', false, m.buffer, pageSize, pageSize)
      if (typeof r === 'number') throw new Error(`no child: ${r}`)
      expect(r.calls).toEqual([{ syscall: 'munmap', args: [], ret: 0 }])
      expect(r.facts).toEqual({ mapped: 0 })
      expect(new Uint8Array(m.buffer)[pageSize]).toBe(0) // the caller's page is still mapped and readable
    } finally {
      m.unmap()
    }
  })

  it('rejects a name it does not know, and environment probes answer with a number', () => {
    for (const name of ['ia32', 'map-zero'] as const)
      expect(native.msealEnvProbe(name)).toEqual({ forked: true, result: expect.any(Number) as number, signal: expect.any(Number) as number })
    expect(native.msealEnvProbe('nothing' as 'ia32')).toEqual({ forked: true, result: -95, signal: 0 }) // ENOTSUP
    const r = native.msealScenario('nothing' as 'shmdt', false)
    expect(r).toMatchObject({ calls: [], facts: {}, signal: 0, exit: 2 })
  })
})
