/**
 * `memseal cache [--cache DIR] [--json] [--prune [--older-than DAYS] | --all]`: what the matrix keeps
 * and how much disk it takes (apt lists per architecture, one entry per kernel, arm64 userlands), and
 * pruning: kernels a newer package superseded, entries unused for a while, and leftovers of
 * interrupted runs. Directories the matrix did not make are listed and never removed.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { defaultCacheDir } from './cache'
import { ENTRY_FILE, type KernelEntry } from './kernel-store'
import { UsageError, usageErrorText } from '../cli/usage'

export const CACHE_USAGE = `Usage: memseal cache [--cache DIR] [--json] [--prune [--older-than DAYS]] [--all]

Lists what the kernel matrix keeps in its cache ($MEMSEAL_CACHE, $XDG_CACHE_HOME/memseal or
~/.cache/memseal): the package lists of each architecture, each kernel (its image and the modules a
guest loads), arm64 userlands, with their disk use and when each was last used.

  --prune           remove kernels that a newer package of their series superseded, entries unused
                    for --older-than days (default 30), package lists no kernel read for that long,
                    and what interrupted runs left behind
  --all             remove everything the matrix keeps (the next run downloads it again)
  --json            print the listing as JSON`

/** Top-level directories the matrix makes. */
const MATRIX_DIRS = ['apt', 'kernels', 'local', 'userland', 'debs', 'runs']

export interface CacheEntry {
  kind: 'lists' | 'apt' | 'kernel' | 'local' | 'userland' | 'debs' | 'runs' | 'other'
  /** Relative to the cache directory. */
  path: string
  bytes: number
  /** ms since the epoch, when known. */
  lastUsed: number | null
  /** What it is: a kernel's release and packages, an architecture's suites. */
  what: string
  /** A kernel that a newer package of its series has replaced. */
  superseded: boolean
}

/** Disk use of a tree (allocated blocks, as du counts), not following symlinks. */
export function diskUse(path: string): number {
  let st
  try {
    st = lstatSync(path)
  } catch {
    return 0
  }
  let total = st.blocks * 512
  if (st.isDirectory()) for (const name of readdirSync(path)) total += diskUse(join(path, name))
  return total
}

function mtime(path: string): number | null {
  try {
    return statSync(path).mtimeMs
  } catch {
    return null
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
  } catch {
    return []
  }
}

/** Kernel directories that a remembered resolution names: the current kernel of some spec. */
function currentKernels(cacheDir: string): Set<string> {
  const current = new Set<string>()
  for (const arch of subdirs(join(cacheDir, 'apt'))) {
    const dir = join(cacheDir, 'apt', arch, 'resolved')
    if (!existsSync(dir)) continue
    for (const f of readdirSync(dir)) {
      try {
        const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { abi: string; packages: Array<{ version: string }> }
        const flavour = /_([^_]+)\.json$/.exec(f)?.[1] ?? arch
        current.add(`${r.abi}-${flavour}_${r.packages[0]?.version ?? ''}`)
      } catch {
        // unreadable: it names nothing
      }
    }
  }
  return current
}

export function listCache(cacheDir: string): CacheEntry[] {
  const entries: CacheEntry[] = []
  if (!existsSync(cacheDir)) return entries
  for (const arch of subdirs(join(cacheDir, 'apt'))) {
    const base = join(cacheDir, 'apt', arch)
    const stamps = existsSync(join(base, 'stamps')) ? readdirSync(join(base, 'stamps')) : []
    const used = Math.max(0, ...stamps.map((s) => mtime(join(base, 'stamps', s)) ?? 0))
    entries.push({
      kind: 'lists',
      path: join('apt', arch, 'lists'),
      bytes: diskUse(join(base, 'lists')),
      lastUsed: used || null,
      what: `${arch} package lists: ${stamps.join(', ') || 'none'}`,
      superseded: false,
    })
    const rest = diskUse(base) - diskUse(join(base, 'lists'))
    entries.push({
      kind: 'apt',
      path: join('apt', arch),
      bytes: rest,
      lastUsed: used || null,
      what: `${arch} apt configuration and remembered kernels`,
      superseded: false,
    })
  }
  const current = currentKernels(cacheDir)
  for (const name of subdirs(join(cacheDir, 'kernels'))) {
    const dir = join(cacheDir, 'kernels', name)
    let what = 'incomplete (no kernel.json)'
    try {
      const e = JSON.parse(readFileSync(join(dir, ENTRY_FILE), 'utf8')) as KernelEntry
      what = `${e.release ?? '?'} (${e.arch}): ${e.packages.join(', ')}`
    } catch {
      // an interrupted unpack: listed as incomplete
    }
    entries.push({ kind: 'kernel', path: join('kernels', name), bytes: diskUse(dir), lastUsed: mtime(join(dir, 'used')), what, superseded: !current.has(name) })
  }
  for (const name of subdirs(join(cacheDir, 'local'))) {
    const dir = join(cacheDir, 'local', name)
    entries.push({
      kind: 'local',
      path: join('local', name),
      bytes: diskUse(dir),
      lastUsed: mtime(join(dir, 'used')),
      what: 'a local kernel image',
      superseded: false,
    })
  }
  for (const name of subdirs(join(cacheDir, 'userland'))) {
    const dir = join(cacheDir, 'userland', name)
    entries.push({
      kind: 'userland',
      path: join('userland', name),
      bytes: diskUse(dir),
      lastUsed: mtime(join(dir, 'unpacked')),
      what: 'a foreign-architecture userland',
      superseded: false,
    })
  }
  for (const [kind, what] of [
    ['debs', 'userland packages'],
    ['runs', 'control shares of boots in progress'],
  ] as const) {
    const dir = join(cacheDir, kind)
    if (existsSync(dir)) entries.push({ kind, path: kind, bytes: diskUse(dir), lastUsed: mtime(dir), what, superseded: false })
  }
  for (const name of readdirSync(cacheDir).sort()) {
    if (MATRIX_DIRS.includes(name)) continue
    entries.push({
      kind: 'other',
      path: name,
      bytes: diskUse(join(cacheDir, name)),
      lastUsed: mtime(join(cacheDir, name)),
      what: 'not the matrix’s (kept)',
      superseded: false,
    })
  }
  return entries
}

/** What --prune removes: superseded kernels, entries unused for `maxAgeMs`, leftovers of runs. */
export function pruneCandidates(entries: CacheEntry[], maxAgeMs: number, now: number = Date.now()): CacheEntry[] {
  const old = (e: CacheEntry): boolean => e.lastUsed === null || now - e.lastUsed > maxAgeMs
  return entries.filter((e) => {
    if (e.kind === 'kernel') return e.superseded || old(e) || e.what.startsWith('incomplete')
    if (e.kind === 'local' || e.kind === 'userland' || e.kind === 'lists') return old(e)
    if (e.kind === 'runs') return e.bytes > 4096
    return false
  })
}

export function sizeText(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`
  return `${Math.round(bytes / 1e3)} kB`
}

function ago(ms: number | null, now: number): string {
  if (ms === null) return 'never'
  const s = (now - ms) / 1000
  if (s < 120) return 'just now'
  if (s < 7200) return `${Math.round(s / 60)} min ago`
  if (s < 172800) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} days ago`
}

/** `memseal cache …`; returns the exit status (a promise, like the other command modules' entries). */
export function cacheMain(argv: string[]): Promise<number> {
  return Promise.resolve(cacheCommand(argv))
}

function cacheCommand(argv: string[]): number {
  let cacheDir = defaultCacheDir()
  let json = false
  let prune = false
  let all = false
  let days = 30
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = (): string | undefined => inline ?? argv[++i]
    if (flag === '--cache') {
      const v = value()
      if (!v) return usage('--cache needs a directory')
      cacheDir = v
    } else if (flag === '--json') json = true
    else if (flag === '--prune') prune = true
    else if (flag === '--all') all = true
    else if (flag === '--older-than') {
      const v = Number(value())
      if (!Number.isFinite(v) || v < 0) return usage('--older-than needs a number of days')
      days = v
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${CACHE_USAGE}\n`)
      return 0
    } else return usage(`unknown argument "${arg}"`)
  }
  const now = Date.now()
  let entries = listCache(cacheDir)
  if (all || prune) {
    const doomed = all ? entries.filter((e) => e.kind !== 'other') : pruneCandidates(entries, days * 86_400_000, now)
    for (const e of doomed) {
      rmSync(join(cacheDir, e.path), { recursive: true, force: true })
      process.stderr.write(`memseal cache: removed ${e.path} (${sizeText(e.bytes)}${e.superseded ? ', superseded' : ''})\n`)
    }
    if (all) for (const d of MATRIX_DIRS) rmSync(join(cacheDir, d), { recursive: true, force: true })
    process.stderr.write(`memseal cache: freed ${sizeText(doomed.reduce((t, e) => t + e.bytes, 0))}\n`)
    entries = listCache(cacheDir)
  }
  const total = entries.reduce((t, e) => t + e.bytes, 0)
  if (json) {
    process.stdout.write(`${JSON.stringify({ cacheDir, totalBytes: total, entries }, null, 2)}\n`)
    return 0
  }
  const rows = entries.map((e) => [sizeText(e.bytes), ago(e.lastUsed, now), e.path, `${e.what}${e.superseded ? ' [superseded]' : ''}`])
  const w = [0, 1].map((c) => Math.max(0, ...rows.map((r) => r[c]!.length)))
  const lines = [
    `memseal cache: ${cacheDir}`,
    ...rows.map((r) => `  ${r[0]!.padStart(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]}  ${r[3]}`),
    `  ${sizeText(total)} in all`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  return 0
}

function usage(message: string): number {
  process.stderr.write(usageErrorText(new UsageError(message, 'cache')))
  return 2
}
