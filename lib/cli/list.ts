/** `memseal list`: the clauses and their statements, nothing run (the same as `memseal check --list`). */
import { sourceText, statementText } from '../conformance/evaluate'
import { loadClauses, selectClauses, splitPatterns } from '../conformance/runner'
import { parseOptions } from './args'
import { LIST_OPTIONS } from './check-options'
import { EXIT } from './status'
import { UsageError } from './usage'

export const LIST_USAGE = `Usage: memseal list [--only GLOB]... [--json]

Lists the clauses of the conformance suite with their statements, and runs nothing
(the same as memseal check --list).

  --only GLOB   only matching clause ids ('seal.*'; 'seal' matches seal.*); repeatable, comma lists ok
  --json        print the clauses as JSON: id, area, statement, source, since, needs, isolation
  -h, --help    this text
`

export function runList(options: { only: readonly string[]; json: boolean }, command: string): number {
  const clauses = selectClauses(loadClauses(), [...options.only])
  if (options.only.length > 0 && clauses.length === 0) throw new UsageError(`no clause matches --only ${splitPatterns([...options.only]).join(',')}`, command)
  if (options.json) {
    const rows = clauses.map((c) => ({
      id: c.id,
      area: c.area,
      // The quoted documentation and where it is from (the deprecated statement/source are gone from the catalog)
      statement: statementText(c),
      source: sourceText(c),
      since: c.since,
      needs: c.needs ?? [],
      isolation: c.isolation ?? 'worker',
    }))
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
    return EXIT.ok
  }
  const width = Math.max(0, ...clauses.map((c) => c.id.length))
  process.stdout.write(`${clauses.map((c) => `${c.id.padEnd(width)}  ${statementText(c)}\n`).join('')}# ${clauses.length} clauses\n`)
  return EXIT.ok
}

export function listMain(argv: string[]): Promise<number> {
  const o = parseOptions(argv, LIST_OPTIONS, 'list')
  if (o.help) {
    process.stdout.write(LIST_USAGE)
    return Promise.resolve(EXIT.ok)
  }
  return Promise.resolve(runList({ only: o.list('--only'), json: o.flag('--json') }, 'list'))
}
