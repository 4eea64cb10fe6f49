/**
 * The option parser every command shares: `--name value` and `--name=value`, flags that refuse a value,
 * repeatable lists, `-h`/`--help` anywhere, and usage errors that suggest the option meant.
 */
import { suggestion, UsageError } from './usage'

/** A flag (`--json`), an option with one value (`--junit FILE`) or a repeatable one (`--only GLOB`). */
export type OptionKind = 'flag' | 'value' | 'list'

export interface OptionSpec {
  kind: OptionKind
  /** Another spelling that means this option ('-v' for '--verbose'). */
  alias?: string
}

/** Options by their long name, '--json'. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>

export interface ParsedOptions {
  /** `-h` or `--help` was given: the command prints its help and does nothing else. */
  readonly help: boolean
  readonly positionals: readonly string[]
  flag(name: string): boolean
  value(name: string): string | undefined
  list(name: string): readonly string[]
}

/** Every spelling of the options: the long names and their aliases, for suggestions and lookups. */
export function optionNames(specs: OptionSpecs): string[] {
  return Object.entries(specs).flatMap(([name, spec]) => (spec.alias ? [name, spec.alias] : [name]))
}

/** `--name=value` split into the option's name and its inline value; any other argument is a name alone. */
export function splitOption(arg: string): { name: string; inline: string | undefined } {
  const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
  return eq > 0 ? { name: arg.slice(0, eq), inline: arg.slice(eq + 1) } : { name: arg, inline: undefined }
}

/**
 * Parses `argv` (the arguments after the command's name) against `specs`. Throws a UsageError naming
 * `command` for an unknown option (with the nearest known one), a missing or unexpected value, a
 * one-value option given twice, or a positional argument where `positionals` is false.
 */
export function parseOptions(argv: readonly string[], specs: OptionSpecs, command: string, options: { positionals?: boolean } = {}): ParsedOptions {
  const byName = new Map<string, string>()
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, name)
    if (spec.alias) byName.set(spec.alias, name)
  }
  const flags = new Set<string>()
  const values = new Map<string, string>()
  const lists = new Map<string, string[]>()
  const positionals: string[] = []
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '-h' || arg === '--help') {
      help = true
      continue
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (!options.positionals) throw new UsageError(`unexpected argument '${arg}'`, command)
      positionals.push(arg)
      continue
    }
    const { name: given, inline } = splitOption(arg)
    const name = byName.get(given)
    if (name === undefined) throw new UsageError(`unknown option ${given}${suggestion(given, optionNames(specs))}`, command, given)
    const spec = specs[name]!
    if (spec.kind === 'flag') {
      if (inline !== undefined) throw new UsageError(`${given} takes no value`, command)
      flags.add(name)
      continue
    }
    let value = inline
    if (value === undefined) {
      const next = argv[i + 1]
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`${given} needs a value`, command)
      value = next
      i++
    }
    if (spec.kind === 'value') {
      if (values.has(name)) throw new UsageError(`${name} given twice`, command)
      values.set(name, value)
    } else {
      lists.set(name, [...(lists.get(name) ?? []), value])
    }
  }
  return {
    help,
    positionals,
    flag: (name) => flags.has(name),
    value: (name) => values.get(name),
    list: (name) => lists.get(name) ?? [],
  }
}
