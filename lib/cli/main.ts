/**
 * `memseal [command] [options]`: finds the command, runs it, and turns what can go wrong at the edges
 * into one line and an exit status (status.ts): usage errors point to the command's help and suggest
 * the name meant; an output that cannot be written is an I/O error. Anything else is a bug and keeps
 * its stack trace (the bin entry, lib/cli.ts, prints it).
 */
import { toolVersion } from '../conformance/report'
import { commandsWithOption, COMMANDS, findCommand, type Command } from './commands'
import { USAGE } from './help'
import { OutputError } from './output'
import { EXIT } from './status'
import { suggestion, UsageError, usageErrorText } from './usage'

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return USAGE.replace('COMMANDS', COMMANDS.map((c) => `  ${c.name.padEnd(width + 2)} ${c.summary}`).join('\n'))
}

/** The command and its arguments: `memseal` alone and `memseal --option …` run check. */
function resolve(argv: readonly string[]): { command: Command; args: string[] } {
  const [first, ...rest] = argv
  if (first === undefined || first.startsWith('-')) return { command: findCommand('check')!, args: [...argv] }
  const command = findCommand(first)
  if (command) return { command, args: rest }
  const names = COMMANDS.map((c) => c.name)
  throw new UsageError(`unknown command '${first}'${suggestion(first, names)}`)
}

/** An unknown option that another command takes says so: `info --tap` → "--tap is an option of check". */
async function explained(err: UsageError): Promise<UsageError> {
  if (err.unknownOption === undefined || err.command === undefined) return err
  const owners = await commandsWithOption(err.unknownOption, err.command)
  if (owners.length === 0) return err
  return new UsageError(`${err.unknownOption} is an option of ${owners.join(' and ')}, not of ${err.command}`, err.command)
}

/** Runs `memseal` with `argv` (without node and the script) and resolves with its exit status. */
export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv
  let program = 'memseal'
  try {
    if (first === '-h' || first === '--help' || (first === 'help' && second === undefined)) {
      process.stdout.write(usage())
      return EXIT.ok
    }
    if (first === 'help') return await resolve([second!, '--help']).command.run(['--help'])
    if (first === '-V' || first === '--version') {
      process.stdout.write(`${toolVersion()}\n`)
      return EXIT.ok
    }
    const { command, args } = resolve(argv)
    program = `memseal ${command.name}`
    return await command.run(args)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(usageErrorText(await explained(err)))
      return EXIT.usage
    }
    if (err instanceof OutputError) {
      process.stderr.write(`${program}: ${err.message}\n`)
      return EXIT.io
    }
    throw err
  }
}
