// History ranges built from a fix's evidence (lib/conformance/clauses/unfixed.ts): a kernel that lacks the
// fix is in the range, a stable release that took it is not, and a branch whose fixed release is unknown
// keeps only its first release, so a later release of it that shows the old behaviour is not `known`.
import { unfixed } from '../lib/conformance/clauses/unfixed'
import { inRange, parseVersion } from '../lib/kernel/version'

const inIt = (range: string, version: string): boolean => inRange(parseVersion(version), range)

// 3b041514cb6e: mainline 7.1, in the 6.12.93 and 6.18.35 queues, 6.6.y and 7.0.y at unknown releases
const ebusy = unfixed({ since: '6.3', mainline: '7.1', stable: { '6.12': '6.12.93', '6.18': '6.18.35' }, unknown: ['6.6', '7.0'] })

test.each`
  version       | lacks
  ${'6.2.16'}   | ${false}
  ${'6.3'}      | ${true}
  ${'6.5.13'}   | ${true}
  ${'6.6'}      | ${true}
  ${'6.6.1'}    | ${false}
  ${'6.6.130'}  | ${false}
  ${'6.11.11'}  | ${true}
  ${'6.12.92'}  | ${true}
  ${'6.12.93'}  | ${false}
  ${'6.12.117'} | ${false}
  ${'6.17.13'}  | ${true}
  ${'6.18.34'}  | ${true}
  ${'6.18.35'}  | ${false}
  ${'6.18.44'}  | ${false}
  ${'6.19.9'}   | ${true}
  ${'7.0'}      | ${true}
  ${'7.0.5'}    | ${false}
  ${'7.1'}      | ${false}
  ${'7.2.13'}   | ${false}
`('a fix with named and unknown stable releases: $version lacks it → $lacks', ({ version, lacks }: { version: string; lacks: boolean }) => {
  expect(inIt(ebusy, version)).toBe(lacks)
})

test('the range text is the mainline releases minus the stable ones, as comparators inRange parses', () => {
  expect(ebusy).toBe('>=6.3.0 <6.6.1 || >=6.7.0 <6.12.93 || >=6.13.0 <6.18.35 || >=6.19.0 <7.0.1')
  expect(unfixed({ since: '6.3', mainline: '6.7' })).toBe('>=6.3.0 <6.7.0')
  // the 6.7 read-only shared mappings, backported in 2025 to every maintained tree
  const ro = unfixed({
    since: '3.17',
    mainline: '6.7',
    stable: { '5.4': '5.4.297', '5.10': '5.10.241', '5.15': '5.15.190', '6.1': '6.1.149', '6.6': '6.6.103' },
  })
  expect(['5.10.240', '6.1.148', '6.6.102', '6.5.13', '4.19.325'].map((v) => inIt(ro, v))).toEqual([true, true, true, true, true])
  expect(['5.10.241', '5.10.262', '6.1.192', '6.6.103', '6.7', '6.18.44'].map((v) => inIt(ro, v))).toEqual([false, false, false, false, false, false])
})
