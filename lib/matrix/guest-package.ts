/**
 * The memseal package as a foreign-architecture guest loads it: package.json, the compiled
 * dist/, the guest architecture's prebuild and node-gyp-build, copied into the cache. A source
 * tree's build/Release/memseal.node is the host's architecture, and node-gyp-build would try it
 * before the prebuilds, so the guest never sees the tree itself; what it loads is what an
 * `npm install` on that architecture would load.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { archProfile } from './guest-arch'
import { type GuestArch } from './specs'

/**
 * Copies what the guest needs from `projectDir` into `dir` (replacing it) and returns `dir`. Each
 * kernel gets its own copy: the next kernel is prepared while this one boots.
 */
export function stageGuestPackage(projectDir: string, arch: GuestArch, dir: string): string {
  const { prebuild } = archProfile(arch)
  const prebuildDir = join(projectDir, 'prebuilds', prebuild)
  if (!existsSync(prebuildDir) || !readdirSync(prebuildDir).some((f) => f.endsWith('.node'))) {
    throw new Error(`${projectDir} has no prebuilds/${prebuild}/*.node for the ${arch} guest: run \`npm run prebuilds\` first`)
  }
  for (const need of ['package.json', join('dist', 'cli.js')]) {
    if (!existsSync(join(projectDir, need))) throw new Error(`${projectDir} has no ${need}: run \`npm run compile\` first`)
  }
  let gypBuild: string
  try {
    gypBuild = dirname(require.resolve('node-gyp-build/package.json', { paths: [projectDir] }))
  } catch {
    throw new Error(`node-gyp-build (a dependency of memseal) cannot be found from ${projectDir}`)
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'prebuilds'), { recursive: true })
  cpSync(join(projectDir, 'package.json'), join(dir, 'package.json'))
  cpSync(join(projectDir, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(prebuildDir, join(dir, 'prebuilds', prebuild), { recursive: true })
  cpSync(gypBuild, join(dir, 'node_modules', 'node-gyp-build'), { recursive: true })
  return dir
}

/**
 * The guest command for a userland root: the host's node (its path means nothing there) becomes
 * the root's `node`; everything else is kept.
 */
export function guestCommand(command: string[], hostNode: string = process.execPath): string[] {
  return command.map((w, i) => (i === 0 && (w === hostNode || w === 'node') ? '/usr/bin/node' : w))
}
