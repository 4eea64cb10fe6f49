/**
 * A private apt root inside the cache: its own sources list, package lists, package cache and an empty
 * dpkg status, selected with APT_CONFIG. The host's apt configuration and its installed packages are
 * never read or changed; `apt-get download` only fetches .deb files.
 *
 * One list directory per architecture serves every kernel: each suite's lists are fetched once, kept
 * compressed (lz4, about 40% of their plain size), and shared by every set of suites that names the
 * suite (sid for `newest` and for `7.3`, bookworm for 6.1 and for an arm64 userland). apt's binary
 * caches are not kept: apt-cache reads the compressed lists in well under a second per suite, and a
 * kernel already resolved does not ask apt at all (fetch.ts).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from './exec'

export const DEBIAN_MIRROR = 'http://deb.debian.org/debian'
export const DEBIAN_SECURITY_MIRROR = 'http://deb.debian.org/debian-security'
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'

/** Package lists older than this are refreshed before a kernel is chosen. */
export const LIST_MAX_AGE_MS = 12 * 3600 * 1000

export interface AptOptions {
  arch: string
  mirror?: string
  securityMirror?: string
  keyring?: string
}

export interface PackageInfo {
  name: string
  version: string
  size: number
}

export class AptRoot {
  /** Per architecture: the shared lists, the download area, one stamp per suite. */
  readonly archDir: string
  /** Per set of suites: its sources list and configuration. */
  readonly dir: string
  private readonly config: string

  constructor(
    cacheDir: string,
    readonly suites: readonly string[],
    private readonly options: AptOptions,
  ) {
    this.archDir = join(cacheDir, 'apt', options.arch)
    this.dir = join(this.archDir, 'sets', suites.join('+'))
    this.config = join(this.dir, 'apt.conf')
  }

  private stamp(suite: string): string {
    return join(this.archDir, 'stamps', suite)
  }

  /**
   * When the lists of these suites were last fetched (ms since the epoch), or null when one of them
   * never was or is older than LIST_MAX_AGE_MS.
   */
  listsFetchedAt(now: number = Date.now()): number | null {
    let newest = 0
    for (const suite of this.suites) {
      const st = statSync(this.stamp(suite), { throwIfNoEntry: false })
      if (!st || now - st.mtimeMs >= LIST_MAX_AGE_MS) return null
      newest = Math.max(newest, st.mtimeMs)
    }
    return newest
  }

  /** Writes the private configuration and refreshes the lists when they are missing or stale. */
  async update(force = false): Promise<void> {
    for (const d of ['lists/partial', 'archives/partial', 'stamps']) mkdirSync(join(this.archDir, d), { recursive: true })
    for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'state']) mkdirSync(join(this.dir, d), { recursive: true })
    writeFileSync(join(this.dir, 'state', 'status'), '')
    writeFileSync(join(this.dir, 'etc', 'sources.list'), this.sourcesList())
    writeFileSync(this.config, this.aptConf())
    if (!force && this.listsFetchedAt() !== null) return
    await run('apt-get', [...this.opts(), 'update', '-q'], { env: this.env() })
    const now = new Date()
    for (const suite of this.suites) writeFileSync(this.stamp(suite), `${now.toISOString()}\n`)
  }

  /** Package names matching an extended regular expression. */
  async search(pattern: string): Promise<string[]> {
    const r = await run('apt-cache', [...this.opts(), 'search', '--names-only', pattern], { env: this.env() })
    return r.stdout
      .split('\n')
      .map((l) => (l.split(' - ')[0] ?? '').trim())
      .filter((n) => n !== '')
  }

  /** The candidate (newest) version of each package that exists; missing names are left out. */
  async show(names: string[]): Promise<PackageInfo[]> {
    if (names.length === 0) return []
    const r = await run('apt-cache', [...this.opts(), 'show', '--no-all-versions', ...names], { env: this.env() }).catch((e: Error) => {
      throw new Error(`apt-cache show: ${e.message}`)
    })
    return r.stdout.split(/\n\n+/).flatMap((stanza) => {
      const field = (f: string): string | undefined => new RegExp(`^${f}: (.*)$`, 'm').exec(stanza)?.[1]
      const name = field('Package')
      const version = field('Version')
      return name && version ? [{ name, version, size: Number(field('Size') ?? 0) }] : []
    })
  }

  /**
   * The packages `names` need to run, themselves included: the recursive Depends and Pre-Depends
   * closure, without recommendations. Virtual names (`<…>`) are left out; every alternative of an
   * `a | b` dependency is listed, which costs a few extra packages and never a missing one.
   */
  async dependsClosure(names: string[]): Promise<string[]> {
    const r = await run(
      'apt-cache',
      [...this.opts(), 'depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...names],
      { env: this.env() },
    )
    const found = r.stdout
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith(' ') && !l.startsWith('<'))
      .map((l) => l.trim().replace(/:[a-z0-9]+$/, ''))
    return [...new Set(found)].sort()
  }

  /**
   * Downloads one package version into `dest` (a .deb path) unless it is already there.
   * `onBytes` hears how much has arrived, every few seconds while the download runs.
   */
  async download(pkg: PackageInfo, dest: string, onBytes: (bytes: number) => void = () => {}): Promise<void> {
    if (existsSync(dest)) return
    const tmp = `${dest}.partial.d`
    rmSync(tmp, { recursive: true, force: true })
    mkdirSync(tmp, { recursive: true })
    const dirs = [tmp, join(this.archDir, 'archives', 'partial')]
    const arrived = (): number =>
      dirs
        .flatMap((d) => (existsSync(d) ? readdirSync(d).map((f) => join(d, f)) : []))
        .reduce((sum, f) => sum + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0)
    const poll = setInterval(() => onBytes(arrived()), 3000)
    try {
      await run('apt-get', [...this.opts(), 'download', '-q', `${pkg.name}=${pkg.version}`], { env: this.env(), cwd: tmp })
    } finally {
      clearInterval(poll)
    }
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'))
    if (!deb) throw new Error(`apt-get download ${pkg.name}=${pkg.version} left no .deb`)
    renameSync(join(tmp, deb), dest)
    rmSync(tmp, { recursive: true, force: true })
  }

  /**
   * Options given on the command line, where the host's apt.conf.d (read after APT_CONFIG, and kept for
   * its proxy settings) cannot undo them: lists stay compressed; no binary caches are written (each set
   * of suites would keep its own copy of the same lists); and `apt-get update` leaves the lists of
   * suites it was not asked about, which other sets share.
   */
  private opts(): string[] {
    return ['-o', 'Acquire::GzipIndexes=true', '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=', '-o', 'APT::Get::List-Cleanup=false']
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, APT_CONFIG: this.config, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' }
  }

  private sourcesList(): string {
    const keyring = this.options.keyring ?? DEBIAN_KEYRING
    return this.suites
      .map((suite) => {
        const uri = suite.endsWith('-security') ? (this.options.securityMirror ?? DEBIAN_SECURITY_MIRROR) : (this.options.mirror ?? DEBIAN_MIRROR)
        return `deb [signed-by=${keyring}] ${uri} ${suite} main\n`
      })
      .join('')
  }

  private aptConf(): string {
    const d = this.dir
    const a = this.archDir
    return [
      `Dir::Etc::SourceList "${d}/etc/sources.list";`,
      `Dir::Etc::SourceParts "${d}/etc/sources.list.d";`,
      `Dir::Etc::Preferences "${d}/etc/preferences";`,
      `Dir::Etc::PreferencesParts "${d}/etc/preferences.d";`,
      `Dir::State "${d}/state";`,
      `Dir::State::Lists "${a}/lists";`,
      `Dir::State::status "${d}/state/status";`,
      `Dir::Cache "${d}";`,
      `Dir::Cache::archives "${a}/archives";`,
      `APT::Architecture "${this.options.arch}";`,
      `APT::Architectures { "${this.options.arch}"; };`,
      'Acquire::Languages "none";',
      'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";',
      // As root apt drops to _apt, which could not write the private directories of whoever runs the matrix.
      ...(process.getuid?.() === 0 ? ['APT::Sandbox::User "root";'] : []),
      '',
    ].join('\n')
  }
}
