// Usage errors of the memseal command: one line that says what is wrong (with the name probably meant, or
// the command an option belongs to), a pointer to that command's help, status 2, nothing run, nothing on
// standard output. And the pieces behind them (lib/cli/usage.ts, lib/cli/args.ts) on their own.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parseOptions } from '../lib/cli/args'
import { EXIT } from '../lib/cli/status'
import { didYouMean, editDistance, UsageError } from '../lib/cli/usage'
import { ROOT } from './helpers'

const CLI = join(ROOT, 'dist', 'cli.js')

function memseal(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('a usage error is one line and a pointer to --help, status 2', () => {
  test.each`
    args                                         | line
    ${['chek']}                                  | ${"memseal: unknown command 'chek' (did you mean check?)"}
    ${['lsit']}                                  | ${"memseal: unknown command 'lsit' (did you mean list?)"}
    ${['mat']}                                   | ${"memseal: unknown command 'mat' (did you mean matrix?)"}
    ${['frobnicate']}                            | ${"memseal: unknown command 'frobnicate'"}
    ${['check', '--jsn']}                        | ${'memseal check: unknown option --jsn (did you mean --json?)'}
    ${['check', '--stirct']}                     | ${'memseal check: unknown option --stirct (did you mean --strict?)'}
    ${['--jsno']}                                | ${'memseal check: unknown option --jsno (did you mean --json?)'}
    ${['check', '--bogus']}                      | ${'memseal check: unknown option --bogus'}
    ${['info', '--tap']}                         | ${'memseal info: --tap is an option of check, not of info'}
    ${['info', '--only', 'x']}                   | ${'memseal info: --only is an option of check and list, not of info'}
    ${['list', '--junit', 'x.xml']}              | ${'memseal list: --junit is an option of check, not of list'}
    ${['list', '--kernel', '6.1']}               | ${'memseal list: --kernel is an option of matrix and run, not of list'}
    ${['info', 'extra']}                         | ${"memseal info: unexpected argument 'extra'"}
    ${['check', '--only']}                       | ${'memseal check: --only needs a value'}
    ${['check', '--junit']}                      | ${'memseal check: --junit needs a value'}
    ${['check', '--json=yes']}                   | ${'memseal check: --json takes no value'}
    ${['check', '--junit', 'a', '--junit', 'b']} | ${'memseal check: --junit given twice'}
    ${['check', '--json', '--tap']}              | ${'memseal check: choose one of --json, --tap, --ktap, --markdown (got --json, --tap)'}
    ${['check', '--workers', '0']}               | ${"memseal check: --workers needs a whole number from 1 to 64, not '0'"}
    ${['check', '--only', 'nope.*']}             | ${'memseal check: no clause matches --only nope.*'}
    ${['matrix', '--bogus']}                     | ${'memseal matrix: unknown argument "--bogus"'}
    ${['matrix', '--accel', 'fast']}             | ${'memseal matrix: --accel must be auto, kvm or tcg, not "fast"'}
    ${['run', '--bogus']}                        | ${'memseal run: unknown option "--bogus"'}
    ${['report', 'frob']}                        | ${'memseal report: unknown subcommand "frob" (there is: merge)'}
    ${['report', 'merge']}                       | ${'memseal report merge: name at least one report to merge'}
    ${['cache', '--bogus']}                      | ${'memseal cache: unknown argument "--bogus"'}
    ${['check', '--list', '--tap']}              | ${'memseal check: --list runs nothing and takes only --only and --json (got --tap)'}
    ${['list', '--only', 'nope']}                | ${'memseal list: no clause matches --only nope'}
  `('memseal $args', ({ args, line }: { args: string[]; line: string }) => {
    const command = /^memseal( [\w ]+)?:/.exec(line)![0].slice(0, -1)
    expect(memseal(args)).toEqual({ status: EXIT.usage, stdout: '', stderr: `${line}\nTry '${command} --help' for more information.\n` })
  })
})

test('each command has its own help, and `memseal help COMMAND` shows it', () => {
  for (const [command, usage] of [
    ['check', /^Usage: memseal check /],
    ['list', /^Usage: memseal list /],
    ['info', /^Usage: memseal info /],
    ['matrix', /^Usage: memseal matrix /],
  ] as const) {
    const direct = memseal([command, '--help'])
    expect({ status: direct.status, stdout: direct.stdout, stderr: direct.stderr }).toEqual({ status: 0, stdout: expect.stringMatching(usage), stderr: '' })
    expect(memseal(['help', command]).stdout).toBe(direct.stdout)
  }
  const top = memseal(['--help'])
  expect(top.stdout).toMatch(/^Usage: memseal \[command\]/)
  for (const command of ['check', 'list', 'info', 'matrix']) expect(top.stdout).toMatch(new RegExp(`^ {2}${command} +\\S`, 'm'))
})

describe('did you mean', () => {
  const commands = ['check', 'list', 'info', 'matrix']
  test.each`
    input       | expected
    ${'chek'}   | ${'check'}
    ${'chekc'}  | ${'check'}
    ${'ckeck'}  | ${'check'}
    ${'lsit'}   | ${'list'}
    ${'inf'}    | ${'info'}
    ${'matrx'}  | ${'matrix'}
    ${'mat'}    | ${'matrix'}
    ${'x'}      | ${undefined}
    ${'banana'} | ${undefined}
    ${''}       | ${undefined}
    ${'check'}  | ${'check'}
  `('$input → $expected', ({ input, expected }: { input: string; expected: string | undefined }) => {
    expect(didYouMean(input, commands)).toBe(expected)
  })

  test('a transposition is one edit', () => {
    expect(editDistance('chekc', 'check')).toBe(1)
    expect(editDistance('check', 'check')).toBe(0)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('kitten', 'sitting')).toBe(3)
  })

  test('options: the nearest, and nothing for what is not close', () => {
    const options = ['--json', '--tap', '--markdown', '--junit', '--only', '--strict', '--verbose']
    expect(didYouMean('--jsn', options)).toBe('--json')
    expect(didYouMean('--verbsoe', options)).toBe('--verbose')
    expect(didYouMean('--mark', options)).toBe('--markdown')
    expect(didYouMean('--j', options)).toBeUndefined() // too short to be a prefix worth guessing
    expect(didYouMean('--xyz', options)).toBeUndefined()
  })
})

describe('parseOptions', () => {
  const specs = { '--json': { kind: 'flag' }, '--out': { kind: 'value' }, '--only': { kind: 'list' }, '--verbose': { kind: 'flag', alias: '-v' } } as const
  const usageError = (fn: () => unknown): UsageError => {
    try {
      fn()
    } catch (err) {
      if (err instanceof UsageError) return err
      throw err
    }
    throw new Error('no usage error')
  }

  test('flags, values (both spellings), lists, aliases, help', () => {
    const o = parseOptions(['--json', '--out', 'a', '--only=x', '--only', 'y', '-v', '--help'], specs, 'cmd')
    expect([o.flag('--json'), o.value('--out'), o.list('--only'), o.flag('--verbose'), o.help]).toEqual([true, 'a', ['x', 'y'], true, true])
    const none = parseOptions([], specs, 'cmd')
    expect([none.flag('--json'), none.value('--out'), none.list('--only'), none.help]).toEqual([false, undefined, [], false])
  })

  test('an empty value is a value (the command decides whether it may be empty)', () => {
    expect(parseOptions(['--out', ''], specs, 'cmd').value('--out')).toBe('')
    expect(parseOptions(['--out='], specs, 'cmd').value('--out')).toBe('')
  })

  test('errors name the command and the option', () => {
    const unknown = usageError(() => parseOptions(['--jsn'], specs, 'cmd'))
    expect([unknown.message, unknown.command, unknown.unknownOption]).toEqual(['unknown option --jsn (did you mean --json?)', 'cmd', '--jsn'])
    expect(usageError(() => parseOptions(['--out'], specs, 'cmd')).message).toBe('--out needs a value')
    expect(usageError(() => parseOptions(['--out', '--json'], specs, 'cmd')).message).toBe('--out needs a value')
    expect(usageError(() => parseOptions(['stray'], specs, 'cmd')).message).toBe("unexpected argument 'stray'")
    expect(parseOptions(['stray'], specs, 'cmd', { positionals: true }).positionals).toEqual(['stray'])
  })
})
