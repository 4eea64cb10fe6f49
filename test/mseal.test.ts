// mseal(2) through Mapping#seal, always in a child process (sealed memory stays until exit).
import { kernel } from '../lib'
import { fixtureJson } from './helpers'

const { mseal: available, probes } = kernel.features()
const it = available ? test : test.skip

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
