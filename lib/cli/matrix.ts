/**
 * `memseal matrix`: delegated to lib/matrix, loaded only when asked for (it is the largest part of the
 * package, and a build may leave it out).
 */
import { EXIT } from './status'

interface MatrixModule {
  matrixMain?: (argv: string[]) => unknown
}

/** Loads lib/matrix, or says why it cannot. */
async function loadMatrix(): Promise<MatrixModule | string> {
  try {
    return await import('../matrix')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'MODULE_NOT_FOUND' && /['"]\.\.\/matrix['"]/.test(e.message)) return 'the kernel matrix is not part of this build (no matrix module)'
    throw err
  }
}

export async function matrixMain(argv: string[]): Promise<number> {
  const mod = await loadMatrix()
  if (typeof mod === 'string' || typeof mod.matrixMain !== 'function') {
    process.stderr.write(`memseal matrix: ${typeof mod === 'string' ? mod : 'the matrix module has no matrixMain()'}\n`)
    return EXIT.usage
  }
  const status = await mod.matrixMain(argv)
  return typeof status === 'number' ? status : EXIT.ok
}

/** The matrix's options, read from its own help text (for "it is an option of matrix" hints). */
export async function matrixOptions(): Promise<string[]> {
  try {
    const { USAGE } = await import('../matrix/args')
    return [...new Set(USAGE.match(/--[a-z][a-z-]*/g) ?? [])]
  } catch {
    return []
  }
}
