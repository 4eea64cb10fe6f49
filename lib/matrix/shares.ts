/**
 * Which host directories a guest must be given besides the root. The guest sees the host's root
 * read-only, but with its own empty /tmp, /run and /var/tmp (and its own /dev, /proc, /sys): anything
 * the command needs below those is shared explicitly, at the same path. That covers memseal installed
 * in an application under /tmp, whose dependencies npm hoisted into the application's node_modules,
 * and a node binary unpacked below /tmp.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { basename, dirname, join, sep } from 'node:path'
import { type Share } from './guest-init'

/** Directories the guest replaces with its own (guest-init.ts); a host path below them is hidden. */
export const MASKED_DIRS: readonly string[] = ['/tmp', '/run', '/var/tmp', '/dev', '/proc', '/sys']

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`)
}

/** Whether the guest sees `path` (a real path) through the root share. */
export function visibleThroughRoot(path: string): boolean {
  return !MASKED_DIRS.some((d) => isUnder(path, d))
}

function real(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

/**
 * The shares that make `paths` visible in the guest, read-only: the hidden ones, each once, a
 * directory inside another left out, and directories of one node_modules folder shared as that
 * folder (one 9p device rather than one per package).
 */
export function sharesFor(paths: readonly string[], readonly = true): Share[] {
  const hidden = [...new Set(paths.map(real))].filter((p) => !visibleThroughRoot(p))
  const grouped = new Map<string, string[]>()
  for (const p of hidden) {
    const parent = dirname(p)
    const key =
      basename(parent) === 'node_modules' ? parent : basename(dirname(parent)) === 'node_modules' && basename(parent).startsWith('@') ? dirname(parent) : p
    grouped.set(key, [...(grouped.get(key) ?? []), p])
  }
  const dirs = [...grouped.entries()].map(([key, members]) => (members.length > 1 ? key : members[0]!))
  const outermost = dirs.filter((d) => !dirs.some((other) => other !== d && isUnder(d, other)))
  return outermost.sort((a, b) => a.length - b.length || a.localeCompare(b)).map((hostPath) => ({ hostPath, guestPath: hostPath, readonly }))
}

/** Node's lookup of a package from `from`: `node_modules/<name>` in it and each directory above. */
export function findPackage(name: string, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules', name)
      if (existsSync(join(candidate, 'package.json'))) return candidate
    }
    if (dirname(dir) === dir) return null
  }
}

/**
 * The directories of a package's runtime dependencies, recursively, as Node would resolve them from
 * the package's own directory (so hoisted ones are found where npm put them).
 */
export function dependencyDirs(packageDir: string): string[] {
  const found = new Set<string>()
  const visit = (dir: string): void => {
    let deps: Record<string, string> = {}
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
      deps = pkg.dependencies ?? {}
    } catch {
      return
    }
    for (const name of Object.keys(deps)) {
      const at = findPackage(name, dir)
      if (at === null) continue // an optional or missing dependency: the guest fails as the host would
      const depDir = real(at)
      if (found.has(depDir)) continue
      found.add(depDir)
      visit(depDir)
    }
  }
  visit(real(packageDir))
  return [...found]
}

/** The install prefix of a node binary (`…/bin/node` → `…`), which also holds its libraries. */
export function nodePrefix(nodePath: string): string {
  const r = real(nodePath)
  return basename(dirname(r)) === 'bin' ? dirname(dirname(r)) : dirname(r)
}

/**
 * What the guest needs to run `command` from `projectDir` for the memseal package at `projectDir`:
 * the package, its runtime dependencies, and the node binary's prefix when it is an absolute path.
 */
export function projectShares(projectDir: string, command: readonly string[]): Share[] {
  const paths = [projectDir, ...dependencyDirs(projectDir)]
  const exe = command[0]
  if (exe !== undefined && exe.startsWith('/') && existsSync(exe)) paths.push(nodePrefix(exe))
  return sharesFor(paths)
}
