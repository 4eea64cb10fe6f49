/**
 * Debian version comparison (deb-version(7)): epoch, then upstream version, then revision, each
 * compared by alternating non-digit and digit runs, where `~` sorts before everything, even the end.
 * Used to pick the newest kernel package of a series.
 */

function order(c: string): number {
  if (c === '~') return -1
  if (c === '') return 0
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0)
  return c.charCodeAt(0) + 256
}

function compareFragment(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    let first = 0
    while ((i < a.length && !/\d/.test(a.charAt(i))) || (j < b.length && !/\d/.test(b.charAt(j)))) {
      const ac = i < a.length && !/\d/.test(a.charAt(i)) ? a.charAt(i) : ''
      const bc = j < b.length && !/\d/.test(b.charAt(j)) ? b.charAt(j) : ''
      const d = order(ac) - order(bc)
      if (d !== 0) return Math.sign(d)
      if (ac !== '') i++
      if (bc !== '') j++
    }
    while (a.charAt(i) === '0') i++
    while (b.charAt(j) === '0') j++
    while (i < a.length && /\d/.test(a.charAt(i)) && j < b.length && /\d/.test(b.charAt(j))) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j)
      i++
      j++
    }
    if (i < a.length && /\d/.test(a.charAt(i))) return 1
    if (j < b.length && /\d/.test(b.charAt(j))) return -1
    if (first !== 0) return Math.sign(first)
  }
  return 0
}

function split(v: string): [number, string, string] {
  const colon = v.indexOf(':')
  const epoch = colon < 0 ? 0 : Number(v.slice(0, colon))
  const rest = colon < 0 ? v : v.slice(colon + 1)
  const dash = rest.lastIndexOf('-')
  return dash < 0 ? [epoch, rest, ''] : [epoch, rest.slice(0, dash), rest.slice(dash + 1)]
}

/** Negative when a < b, zero when equal, positive when a > b, as `dpkg --compare-versions`. */
export function compareDebianVersions(a: string, b: string): number {
  const [ea, ua, ra] = split(a)
  const [eb, ub, rb] = split(b)
  if (ea !== eb) return Math.sign(ea - eb)
  return compareFragment(ua, ub) || compareFragment(ra, rb)
}
