/**
 * What mseal(2) does not block (catalog §7.4) and the kernel's own sealing of system mappings under
 * CONFIG_MSEAL_SYSTEM_MAPPINGS (catalog §7.5; selftest mseal_system_mappings/sysmap_is_sealed.c).
 */
import { compareVersions, parseVersion } from '../../kernel/version'
import { C } from '../abi'
import type { Clause, KernelFacts, Observation } from '../types'
import { DOC, RO, callOf, clause, flag, seal } from './mseal-common'

const X = 0x58 // 'X': the byte written through /proc/self/mem

/** CONFIG_MSEAL_SYSTEM_MAPPINGS of the running kernel (read from 6.15 on, when the option arrived; an older kernel seals nothing). */
function sealsSystemMappings(k: KernelFacts): boolean {
  return k.config?.CONFIG_MSEAL_SYSTEM_MAPPINGS === 'y'
}

/**
 * A write through /proc/self/mem to a read-only page: before 6.12 always forced; from 6.12 on
 * CONFIG_PROC_MEM_ALWAYS_FORCE / CONFIG_PROC_MEM_FORCE_PTRACE / CONFIG_PROC_MEM_NO_FORCE and the
 * proc_mem.force_override= parameter decide, so either answer is possible there. mseal must not change it.
 */
function procMemAnswers(k: KernelFacts): Observation[] {
  const written = { ret: 1, byte: X }
  const refused = { errno: 'EIO', byte: 0 }
  const same = (o: Observation): Observation => ({ sealed: o, unsealed: o })
  return compareVersions(k.version, parseVersion('6.12')) < 0 ? [same(written)] : [same(written), same(refused)]
}

export const unblockedClauses: Clause[] = [
  clause({
    id: 'mseal.proc-self-mem-write-allowed',
    quote: DOC.procMem,
    note:
      'A one-byte write through /proc/self/mem (FOLL_FORCE) into a sealed read-only page and into an unsealed control page: mseal must not ' +
      'change the answer. Before 6.12 such a write always lands; from 6.12 on the kernel can refuse it for every page alike (EIO) by ' +
      'configuration (CONFIG_PROC_MEM_* or proc_mem.force_override=), which this clause accepts as long as both pages get the same answer.',
    expect: procMemAnswers,
    run(ctx) {
      const unsealed = ctx.try.procMemWrite(ctx.mem.guarded(1), 0, Buffer.from([X]))
      return { sealed: ctx.try.procMemWrite(ctx.mem.sealedAnon(1), 0, Buffer.from([X])), unsealed }
    },
  }),
  clause({
    id: 'mseal.does-not-freeze-contents',
    quote: DOC.immutable,
    note: 'A read-only MAP_SHARED mapping of a memfd is sealed; a pwrite through the memfd still changes the file, and the sealed mapping shows the new byte.',
    expect: { ret: 1, size: C.PAGE_SIZE, changed: 1, mapped: 0x77 },
    run(ctx) {
      const fd = ctx.file.memfd()
      ctx.file.resize(fd, ctx.ps)
      const r = ctx.mem.map(ctx.ps, RO, C.MAP_SHARED, fd)
      seal(ctx, r, 0, 1)
      const write = ctx.try.write(fd, 1, 0)
      return { ...write, mapped: ctx.mem.byteAt(r, 0) }
    },
  }),
  clause({
    id: 'mseal.sysmap.vdso-sealed',
    catalog: 'mseal.sysmap.sealed-when-enabled (probe mseal.vdso-sealed)',
    mirrors: ['mseal_system_mappings/sysmap_is_sealed.c'],
    quote: DOC.sysmap,
    note:
      "This process's [vdso] carries VM_SEALED ('sl') exactly when the kernel was built with CONFIG_MSEAL_SYSTEM_MAPPINGS=y (6.15 on; the " +
      'option does not exist before, so an older kernel seals nothing). From 6.15 on the configuration must be readable: the seal is ' +
      'compared with it, never with itself.',
    since: '6.15',
    needs: [{ kernelConfigFrom: '6.15' }],
    expect: (k) => ({ sealed: sealsSystemMappings(k) }),
    run(ctx) {
      const vdso = ctx.mem.systemMapping('[vdso]')
      ctx.verify(vdso !== null, () => 'this process has no [vdso] mapping')
      return { sealed: ctx.mem.isSealed(vdso!, 0) }
    },
  }),
  clause({
    id: 'mseal.sysmap.vdso-munmap',
    catalog: 'mseal.sysmap.sealed-when-enabled (probe mseal.vdso-munmap)',
    quote: [DOC.sysmap, DOC.blocked, DOC.eperm],
    note:
      'A forked child unmaps its [vdso]: refused with EPERM, the mapping staying, exactly when CONFIG_MSEAL_SYSTEM_MAPPINGS=y; otherwise it ' + 'is unmapped.',
    since: '6.15',
    needs: [{ kernelConfigFrom: '6.15' }],
    expect: (k): Observation => (sealsSystemMappings(k) ? { errno: 'EPERM', mapped: true } : { ret: 0, mapped: false }),
    run(ctx) {
      const run = ctx.mem.scenario('vdso-munmap', false)
      ctx.verify(flag(run, 'vdso') === true, () => 'the child has no vDSO (no AT_SYSINFO_EHDR in its auxiliary vector)')
      const seen: Observation = run.signal ? { signal: run.signal } : { ...callOf(run, 'munmap'), mapped: flag(run, 'mapped') }
      return seen
    },
  }),
]
