/**
 * The subcommands of `memseal`. Each lives in its own module that exports `xxxMain(argv): Promise<number>`
 * (argv: the arguments after the command's name; the result: an exit status from status.ts) and is
 * loaded only when it runs. A new command is one entry here and one module; its options go in its
 * entry too, so that `memseal OTHER --its-option` can say which command the option belongs to.
 */
import { optionNames } from './args'

export interface Command {
  name: string
  /** One line for `memseal --help`. */
  summary: string
  run(argv: string[]): Promise<number>
  /** Every option the command takes, '--json' and its aliases. */
  options(): Promise<readonly string[]>
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'check',
    summary: 'run the conformance suite on this kernel (the default)',
    run: async (argv) => (await import('./check')).checkMain(argv),
    options: async () => optionNames((await import('./check-options')).CHECK_OPTIONS),
  },
  {
    name: 'list',
    summary: 'list the clauses without running them (same as check --list)',
    run: async (argv) => (await import('./list')).listMain(argv),
    options: async () => optionNames((await import('./check-options')).LIST_OPTIONS),
  },
  {
    name: 'info',
    summary: 'print the kernel, its probed features and the environment',
    run: async (argv) => (await import('./info')).infoMain(argv),
    options: async () => optionNames((await import('./info')).INFO_OPTIONS),
  },
  {
    name: 'matrix',
    summary: 'run the suite across kernels booted under qemu (memseal matrix --help)',
    run: async (argv) => (await import('./matrix')).matrixMain(argv),
    options: async () => (await import('./matrix')).matrixOptions(),
  },
  {
    name: 'run',
    summary: 'run any command on kernels booted under qemu (memseal run --help)',
    run: async (argv) => (await import('../matrix/run-main')).runMain(argv),
    options: async () => usageOptions((await import('../matrix/run-main')).RUN_USAGE),
  },
  {
    name: 'report',
    summary: 'report merge: one matrix report from per-kernel and per-host JSON reports',
    run: async (argv) => (await import('../matrix/report-main')).reportMain(argv),
    options: async () => usageOptions((await import('../matrix/report-main')).REPORT_USAGE),
  },
  {
    name: 'cache',
    summary: 'list the kernel cache with its disk use, or prune it (memseal cache --help)',
    run: async (argv) => (await import('../matrix/cache-main')).cacheMain(argv),
    options: async () => usageOptions((await import('../matrix/cache-main')).CACHE_USAGE),
  },
]

/** A command's options, read from its own help text. */
function usageOptions(usage: string): string[] {
  return [...new Set(usage.match(/--[a-z][a-z-]*/g) ?? [])]
}

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name)
}

/** The commands other than `except` that take `option`, e.g. ['check', 'list'] for '--json'. */
export async function commandsWithOption(option: string, except: string): Promise<string[]> {
  const owners: string[] = []
  for (const c of COMMANDS) if (c.name !== except && (await c.options()).includes(option)) owners.push(c.name)
  return owners
}
