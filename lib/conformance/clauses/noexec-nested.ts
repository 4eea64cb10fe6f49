/**
 * vm.memfd_noexec across nested pid namespaces (catalog §2; memfd_test.c test_sysctl_nested): what a child
 * namespace inherits, what it may write, and what its parent's later changes do to it: one namespace that
 * makes a child namespace for each step (noexec-scripts.ts `nested`), shared by the clauses it serves; and
 * the selftest's own caveat that a namespace's init cannot stop itself.
 */
import type { Ctx } from '../ctx'
import type { Clause, Json, KnownBehaviour, Observation, Quote } from '../types'
import { EXEC_REJECTED, levelOf, NOEXEC, PRE_66, REF_HIERARCHY } from './noexec-docs'
import { sharedPart, sysctlClause } from './noexec-session'

const code = (text: string): Quote => ({ doc: 'kernel/pid_sysctl.h', version: 'Linux 7.2', text })
const LOWER_REFUSED = code(
  '/* You cannot set a lower enforcement value than your parent. */ parent_scope = pidns_memfd_noexec_scope(ns->parent); … table_copy.extra1 = &parent_scope;',
)
const READ_EFFECTIVE = code(
  '/* Equivalent to pidns_memfd_noexec_scope(ns). */ scope = max(READ_ONCE(ns->memfd_noexec_scope), parent_scope); table_copy.data = &scope;',
)

const obj = (v: Json | undefined): Record<string, Json> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {})

/** The field of an observation, as an observation. */
function field(ctx: Ctx, o: Observation, name: string): Record<string, Json> {
  const v = o[name]
  ctx.verify(v !== undefined, () => `the namespace script reported no '${name}' in ${JSON.stringify(o)}`)
  return obj(v)
}

/** The child namespace made under a parent at level 2, which then writes 1, 0 and 2. */
async function below(ctx: Ctx): Promise<Observation> {
  return sharedPart(ctx, 'nested', 'below')
}

export const nestedClauses: Clause[] = [
  sysctlClause({
    id: 'noexec.sysctl.pidns.initial-inherited',
    catalog: 'sysctl.pidns.initial-inherited',
    since: '6.3',
    quote: NOEXEC.inherited,
    note: 'A private pid namespace writes 2; a child namespace made after that reads 2 before it writes anything.',
    mirrors: ['memfd_test.c test_sysctl_nested ("Child inherits our setting.")'],
    expect: { child: 2 },
    run: async (ctx) => ({ child: (await below(ctx)).inherited ?? null }),
  }),
  sysctlClause({
    id: 'noexec.sysctl.nested.lower-than-parent-einval',
    catalog: 'sysctl.nested.lower-than-parent-einval',
    since: '6.3',
    basis: 'code',
    quote: [NOEXEC.hierarchy, LOWER_REFUSED],
    note: "mfd_noexec.rst says the most restrictive setting of the namespaces up to the root applies, but not what a write below the parent's level does; the code refuses it (EINVAL from proc_dointvec_minmax, whose minimum is the parent's level; in 6.3–6.5 the ratchet's minimum was the namespace's own value, with the same answer here). The child of a parent at 2 writes 1, then 0: both refused, and it stays at 2.",
    mirrors: ['memfd_test.c test_sysctl_sysctl2_failset', 'memfd_test.c test_sysctl_sysctl1_failset'],
    expect: { write1: { write: 'EINVAL', level: 2 }, write0: { write: 'EINVAL', level: 2 } },
    run: async (ctx) => {
      const child = await below(ctx)
      return { write1: field(ctx, child, 'write1'), write0: field(ctx, child, 'write0') }
    },
  }),
  sysctlClause({
    id: 'noexec.sysctl.nested.same-as-parent-ok',
    catalog: 'sysctl.nested.lower-than-parent-einval (control)',
    since: '6.3',
    basis: 'code',
    quote: [NOEXEC.hierarchy, LOWER_REFUSED],
    note: "Control for lower-than-parent-einval: the same child then writes its parent's value, 2, which is accepted.",
    expect: { write2: { write: 'ok', level: 2 } },
    run: async (ctx) => ({ write2: field(ctx, await below(ctx), 'write2') }),
  }),
  sysctlClause({
    id: 'noexec.sysctl.nested.child-can-raise',
    catalog: 'sysctl.nested.child-can-raise',
    since: '6.3',
    needs: [{ memfdNoexecAtMost: 1 }],
    quote: NOEXEC.hierarchy,
    note: 'A child namespace of a namespace at the level memseal runs at (0 or 1) writes 2 and reads 2: "the most restrictive setting" may be set below the root.',
    mirrors: ['memfd_test.c test_sysctl_nested ("Child can lower the setting.")'],
    expect: { write: 'ok', level: 2 },
    run: async (ctx) => {
      const raised = field(ctx, await sharedPart(ctx, 'nested', 'raise'), 'child')
      return field(ctx, raised, 'write2')
    },
  }),
  sysctlClause({
    id: 'noexec.sysctl.child-raise-does-not-affect-parent',
    catalog: 'sysctl.child-raise-does-not-affect-parent',
    since: '6.3',
    needs: [{ memfdNoexecAtMost: 1 }],
    quote: NOEXEC.hierarchy,
    note: 'The search runs from a namespace towards the root, never down: after its child namespace raised itself to 2, the parent still reads its own level (the level memseal runs at).',
    mirrors: ['memfd_test.c test_sysctl_nested ("Child lowering the setting has no effect on our setting.")'],
    expect: (k) => ({ child: 2, parent: levelOf(k) }),
    run: async (ctx) => {
      const report = await sharedPart(ctx, 'nested', 'raise')
      return { child: field(ctx, field(ctx, report, 'child'), 'write2').level ?? null, parent: report.parent ?? null }
    },
  }),
  sysctlClause({
    id: 'noexec.sysctl.own-ns-can-lower-to-parent-level',
    catalog: 'sysctl.own-ns-can-lower-to-parent-level',
    since: '6.6',
    needs: [{ memfdNoexecAtMost: 1 }],
    basis: 'code',
    quote: LOWER_REFUSED,
    note: "No document says whether a namespace may lower its own value again; since 6.6 the code's only floor is the parent's level. A private namespace at the level memseal runs at goes up one and back down: both accepted, and it reads its first level again.",
    mirrors: ['memfd_test.c test_sysctl_simple (0 → 1 → 0 → 2 → 1 → 0)'],
    expect: { raise: 'ok', lower: 'ok', restored: true },
    history: [
      {
        range: PRE_66,
        observed: { raise: 'ok', lower: 'EINVAL', restored: false },
        behaviour: 'The 6.3 ratchet ("set minimum to current value") refused any lower value in every namespace, the initial one included.',
        ref: REF_HIERARCHY,
      },
    ],
    run: (ctx) => sharedPart(ctx, 'nested', 'own'),
  }),
  ...parentChangeClauses(),
  sysctlClause({
    id: 'noexec.sysctl.selftest-race.sigstop-to-pidns-init',
    catalog: 'sysctl.selftest-race.sigstop-to-pidns-init',
    since: '6.3',
    quote: {
      doc: 'pid_namespaces(7)',
      version: 'man-pages 6.20',
      section: 'The namespace "init" process',
      url: 'https://man7.org/linux/man-pages/man7/pid_namespaces.7.html',
      text: 'Only signals for which the "init" process has established a signal handler can be sent to the "init" process by other members of the PID namespace. This restriction applies even to privileged processes, and prevents other members of the PID namespace from accidentally killing the "init" process.',
    },
    note: "The caveat behind memfd_test.c's semaphores (sysctl_nested_wait): the init of a pid namespace sends itself SIGSTOP (kill(getpid(), SIGSTOP) returns 0), and the signal is dropped as the page says for other members (the kernel treats the init's own signals alike): it keeps running. Its parent watches its state through two messages, and would send SIGCONT to a stopped init.",
    mirrors: ['memfd_test.c sysctl_nested_wait (why it waits on a semaphore, not SIGSTOP)'],
    expect: { kill: 0, stopped: false },
    run: async (ctx) => {
      let stopped = false
      let watch: ReturnType<typeof setTimeout> | undefined
      const r = await ctx.proc.run({ module: 'noexec-scripts', name: 'stopSelf' }, null, {
        pidns: true,
        onMessage: (m) => {
          const nspid = obj(m).nspid
          if (Array.isArray(nspid)) {
            // Had the init stopped, no second message would come: after a second, look, and let it go on.
            watch = setTimeout(() => {
              stopped = ctx.proc.resumeIfStopped(nspid.map(Number)) || stopped
            }, 1000)
          } else if (watch) clearTimeout(watch)
          return null
        },
      })
      if (watch) clearTimeout(watch)
      return { ...obj(r), stopped }
    },
  }),
]

/** A parent raises itself to 2 over a waiting child, then lowers itself under another. */
function parentChangeClauses(): Clause[] {
  const preHierarchy = (start: number): KnownBehaviour => ({
    range: PRE_66,
    observed: { before: start, after: start },
    behaviour: "Before 6.6 a namespace kept the copy of its parent's value made at its creation, and read that: later changes of the parent did not reach it.",
    ref: REF_HIERARCHY,
  })
  const raised = async (ctx: Ctx): Promise<Observation> => {
    const child = await sharedPart(ctx, 'nested', 'raised')
    ctx.verify(child.before === levelOf(ctx.facts), () => `the child namespace started at level ${JSON.stringify(child.before)}, not ${levelOf(ctx.facts)}`)
    return child
  }
  return [
    sysctlClause({
      id: 'noexec.sysctl.nested.effective-is-max-of-ancestors',
      catalog: 'sysctl.nested.effective-is-max-of-ancestors',
      since: '6.6',
      needs: [{ memfdNoexecAtMost: 1 }],
      quote: [NOEXEC.hierarchy, NOEXEC.level2],
      note: "A child namespace is made at the level memseal runs at (0 or 1); while it waits, its parent writes 2; then the child calls memfd_create(MFD_EXEC | MFD_ALLOW_SEALING), which the most restrictive setting up to the root (2) rejects. The errno set is the kernel's, as for the level-2 clauses.",
      mirrors: ['memfd_test.c test_sysctl_nested ("nested sysctl 0 -> 1 after fork", "0 -> 2 after fork")'],
      expect: { parentWrite: 'ok', exec: EXEC_REJECTED },
      history: [
        {
          range: PRE_66,
          observed: { parentWrite: 'ok', exec: { mode: '0777' } },
          behaviour:
            "Before the hierarchy (6.6), each namespace used the copy of its parent's value made at its creation: the parent's later 2 did not reach the child, whose MFD_EXEC still made an executable memfd.",
          ref: REF_HIERARCHY,
        },
      ],
      run: async (ctx) => {
        const child = await raised(ctx)
        return { parentWrite: child.parentWrite ?? null, exec: child.exec ?? null }
      },
    }),
    sysctlClause({
      id: 'noexec.sysctl.nested.read-shows-effective-level',
      catalog: 'sysctl.nested.effective-is-max-of-ancestors (the value read)',
      since: '6.6',
      needs: [{ memfdNoexecAtMost: 1 }],
      basis: 'code',
      quote: READ_EFFECTIVE,
      note: 'No document says what reading vm.memfd_noexec shows in a namespace whose ancestor is more restrictive; since 6.6 the code shows the effective value, the maximum up to the root. The child of effective-is-max-of-ancestors reads its level before and after its parent writes 2.',
      expect: (k) => ({ before: levelOf(k), after: 2 }),
      history: [preHierarchy(0), preHierarchy(1)],
      run: async (ctx) => {
        const child = await raised(ctx)
        return { before: child.before ?? null, after: child.after ?? null }
      },
    }),
    sysctlClause({
      id: 'noexec.sysctl.nested.parent-lowering-keeps-child',
      catalog: 'sysctl.nested.* (2 -> 1 and 2 -> 0 after fork)',
      since: '6.6',
      needs: [{ memfdNoexecAtMost: 1 }],
      quote: [NOEXEC.inherited, NOEXEC.level2],
      note: 'The parent, now at 2, makes a second child namespace and, while it waits, lowers itself back to the level memseal runs at: the child keeps the 2 passed to it at creation, reads 2, and its MFD_EXEC is rejected (with EACCES: the document gives no errno).',
      mirrors: ['memfd_test.c test_sysctl_nested ("nested sysctl 2 -> 1 after fork", "2 -> 0 after fork")'],
      expect: { parentWrite: 'ok', after: 2, exec: EXEC_REJECTED },
      history: [
        {
          range: PRE_66,
          observed: { parentWrite: 'EINVAL', after: 2, exec: { mode: '0777' } },
          behaviour: 'Before 6.6 the ratchet kept the parent from lowering itself (EINVAL), and level 2 let MFD_EXEC through.',
          ref: REF_HIERARCHY,
        },
      ],
      run: async (ctx) => {
        const child = await sharedPart(ctx, 'nested', 'lowered')
        ctx.verify(child.before === 2, () => `the second child namespace started at level ${JSON.stringify(child.before)}, not 2`)
        return { parentWrite: child.parentWrite ?? null, after: child.after ?? null, exec: child.exec ?? null }
      },
    }),
  ]
}
