/**
 * The matrix cache: apt state, downloaded packages and unpacked kernels. It lives in
 * `$MEMSEAL_CACHE`, else `$XDG_CACHE_HOME/memseal`, else `~/.cache/memseal`, and can be deleted at
 * any time. Nothing here is ever installed on the host.
 */
import { mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MEMSEAL_CACHE) return env.MEMSEAL_CACHE
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'memseal')
  return join(homedir(), '.cache', 'memseal')
}

/** Creates (if needed) and returns a directory inside the cache. */
export function cacheSubdir(cacheDir: string, ...parts: string[]): string {
  const dir = join(cacheDir, ...parts)
  mkdirSync(dir, { recursive: true })
  return dir
}
