/**
 * Kernel specs as users write them after `--kernel`: a Debian kernel series the tool knows
 * (`5.10`, `6.1`, `6.12`), `sid`/`newest` for the newest kernel Debian's archive offers,
 * `experimental`, any other `X.Y` series looked up in sid and experimental, or a local kernel
 * image with its modules (`IMAGE[:MODULES_DIR]`, or an unpacked package directory).
 * An architecture prefix (`arm64:6.1`, `arm64:./Image`) boots a kernel of another architecture
 * under emulation; without one the guest has the host's architecture.
 */

export interface DebianSpec {
  kind: 'debian'
  /** What the user wrote, used as the column name. */
  spec: string
  /** `X.Y`, or null to take the newest kernel the suites offer. */
  series: string | null
  /** Debian suites searched, e.g. `bookworm`, `bookworm-security`. */
  suites: string[]
  /** The guest's Debian architecture when the spec names one (`arm64:6.1`); absent: the host's. */
  arch?: GuestArch
}

export interface LocalSpec {
  kind: 'local'
  spec: string
  /** A vmlinux, bzImage/vmlinuz, or a directory holding `boot/vmlinuz-*` (an unpacked package). */
  image: string
  /** `…/lib/modules/<release>`; null to look beside the image or to boot without modules. */
  modules: string | null
  arch?: GuestArch
}

export type KernelSpec = DebianSpec | LocalSpec

/** Debian architectures the matrix can boot. */
export type GuestArch = 'amd64' | 'arm64'

/** Names accepted before the colon of a spec, for each architecture. */
export const ARCH_ALIASES: Readonly<Record<string, GuestArch>> = {
  amd64: 'amd64',
  x64: 'amd64',
  x86_64: 'amd64',
  'x86-64': 'amd64',
  arm64: 'arm64',
  aarch64: 'arm64',
}

/** Series whose Debian release is known: the suite where that series is the stable kernel. */
export const KNOWN_SERIES: Readonly<Record<string, readonly string[]>> = {
  '5.10': ['bullseye', 'bullseye-security'],
  '6.1': ['bookworm', 'bookworm-security'],
  '6.12': ['trixie', 'trixie-security'],
}

/** Names for "the newest kernel Debian offers" and for release candidates. */
export const NAMED_SUITES: Readonly<Record<string, readonly string[]>> = {
  sid: ['sid'],
  newest: ['sid'],
  latest: ['sid'],
  unstable: ['sid'],
  experimental: ['experimental'],
}

/** Where a series that is not in KNOWN_SERIES is looked for. */
export const OTHER_SERIES_SUITES: readonly string[] = ['sid', 'experimental']

const SERIES_RE = /^\d+\.\d+$/

export class SpecError extends Error {
  readonly code = 'ERR_MEMSEAL_MATRIX_SPEC'
}

/**
 * Parses one `--kernel` argument. A spec naming a file path is recognised by a `/` or `.` prefix;
 * `ARCH:` before either form names the guest's architecture.
 */
export function parseSpec(text: string): KernelSpec {
  const whole = text.trim()
  const prefix = /^([A-Za-z0-9_-]+):(.*)$/.exec(whole)
  if (prefix && !/^[/.~]/.test(whole)) {
    const arch = ARCH_ALIASES[prefix[1]!.toLowerCase()]
    if (!arch) throw new SpecError(`unknown architecture "${prefix[1]!}" in kernel spec "${whole}": use ${Object.keys(ARCH_ALIASES).join(', ')}`)
    if (prefix[2]!.trim() === '') throw new SpecError(`kernel spec "${whole}" names an architecture but no kernel`)
    return { ...parseSpec(prefix[2]!), spec: whole, arch }
  }
  const spec = whole
  if (spec === '') throw new SpecError('empty kernel spec')
  const known = KNOWN_SERIES[spec]
  if (known) return { kind: 'debian', spec, series: spec, suites: [...known] }
  const named = NAMED_SUITES[spec]
  if (named) return { kind: 'debian', spec, series: null, suites: [...named] }
  if (SERIES_RE.test(spec)) {
    refuseImpossibleSeries(spec)
    return { kind: 'debian', spec, series: spec, suites: [...OTHER_SERIES_SUITES] }
  }
  if (spec.startsWith('/') || spec.startsWith('.') || spec.startsWith('~')) {
    const colon = spec.indexOf(':')
    const image = colon < 0 ? spec : spec.slice(0, colon)
    const modules = colon < 0 ? null : spec.slice(colon + 1)
    if (image === '' || modules === '') throw new SpecError(`kernel spec "${spec}": expected IMAGE[:MODULES_DIR]`)
    return { kind: 'local', spec, image, modules }
  }
  const series = [...Object.keys(KNOWN_SERIES), ...Object.keys(NAMED_SUITES)].join(', ')
  throw new SpecError(`unknown kernel spec "${spec}": use a series (${series}, or any X.Y) or a path ./IMAGE[:MODULES_DIR]`)
}

/**
 * The last minor version of each finished major series: Linux 3 ended with 3.19, 4 with 4.20, 5 with
 * 5.19 and 6 with 6.19. A series past these never existed.
 */
export const LAST_MINOR: Readonly<Record<number, number>> = { 3: 19, 4: 20, 5: 19, 6: 19 }

/** The newest series in KNOWN_SERIES: sid and experimental only ever carry newer ones. */
function newestKnownSeries(): number[] {
  return Object.keys(KNOWN_SERIES)
    .map((s) => s.split('.').map(Number))
    .sort((a, b) => b[0]! - a[0]! || b[1]! - a[1]!)[0]!
}

/**
 * Refuses, before anything is downloaded, an `X.Y` that Debian's archive cannot have: a series Linux
 * never had (4.99, 2.6 and older), or one older than the newest stable Debian kernel that no Debian
 * release carries (sid and experimental hold only the newest series).
 */
function refuseImpossibleSeries(spec: string): void {
  const [major, minor] = spec.split('.').map(Number) as [number, number]
  const last = LAST_MINOR[major]
  const carried = Object.entries(KNOWN_SERIES)
    .map(([series, suites]) => `${series} (${suites[0]})`)
    .join(', ')
  const local = 'a kernel of your own boots with --kernel ./IMAGE[:MODULES_DIR]'
  if (major < 3 || (last !== undefined && minor > last)) {
    const why = last !== undefined ? `the ${major}.x series ended with ${major}.${last}` : 'Debian has no kernels older than 3.x'
    throw new SpecError(`there is no Linux ${spec} in Debian's archive: ${why}; ${local}`)
  }
  const [nMajor, nMinor] = newestKnownSeries() as [number, number]
  if (major < nMajor || (major === nMajor && minor <= nMinor)) {
    throw new SpecError(`Debian's archive has no ${spec} kernel: its releases carry ${carried}, and sid and experimental only the newest series; ${local}`)
  }
}

/** A short column name: the spec, or a local image's file name; an architecture follows (`6.1 arm64`). */
export function specLabel(spec: KernelSpec): string {
  const base = spec.kind === 'debian' ? spec.spec.replace(/^[^:/.~]+:/, '') : spec.image.replace(/\/+$/, '').split('/').pop() || spec.spec
  return spec.arch ? `${base} ${spec.arch}` : base
}

/** The guest architecture of a spec: the one it names, else the host's. */
export function specArch(spec: KernelSpec, hostArch: string = process.arch): GuestArch {
  return spec.arch ?? (debianArch(hostArch).arch as GuestArch)
}

/** The Debian architecture and kernel flavour for a Node `process.arch`. */
export function debianArch(arch: string = process.arch): { arch: string; flavour: string } {
  if (arch === 'x64') return { arch: 'amd64', flavour: 'amd64' }
  if (arch === 'arm64') return { arch: 'arm64', flavour: 'arm64' }
  throw new SpecError(`no Debian kernel flavour for architecture ${arch}`)
}

/**
 * Recognises the package that carries a kernel image for a flavour and returns its ABI name
 * (`6.1.0-44`, `6.12.117+deb13`, `7.2.13+deb14`). Up to 6.x the unsigned image package holds both
 * the image and its modules; from 7.x Debian splits them into `linux-binary-unsigned-*` and
 * `linux-modules-*`.
 */
export function imagePackageAbi(name: string, flavour: string): { abi: string; split: boolean } | null {
  const f = escapeRe(flavour)
  // The ABI has no letters outside its +debNN suffix, so `6.1.0-56-rt` (another flavour) is not one.
  const abi = '(\\d+\\.\\d+[0-9.]*(?:-\\d+)?(?:[+~][A-Za-z0-9.]+)?)'
  const classic = new RegExp(`^linux-image-${abi}-${f}-unsigned$`).exec(name)
  if (classic) return { abi: classic[1]!, split: false }
  const split = new RegExp(`^linux-binary-unsigned-${abi}-${f}$`).exec(name)
  if (split) return { abi: split[1]!, split: true }
  return null
}

/** Whether an ABI name belongs to a series: `6.1.0-44` is 6.1, `6.12.117+deb13` is not. */
export function abiInSeries(abi: string, series: string | null): boolean {
  if (series === null) return true
  return new RegExp(`^${escapeRe(series)}([.+~-]|$)`).test(abi)
}

/** The apt-cache search pattern that lists every image package of a flavour. */
export function imageSearchPattern(flavour: string): string {
  const f = escapeRe(flavour)
  return `^(linux-image-[0-9].*-${f}-unsigned|linux-binary-unsigned-[0-9].*-${f})$`
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
