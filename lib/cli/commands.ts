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
]

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name)
}

/** The commands other than `except` that take `option`, e.g. ['check', 'list'] for '--json'. */
export async function commandsWithOption(option: string, except: string): Promise<string[]> {
  const owners: string[] = []
  for (const c of COMMANDS) if (c.name !== except && (await c.options()).includes(option)) owners.push(c.name)
  return owners
}
