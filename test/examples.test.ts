/**
 * The examples run exactly as written, as a user would run them: `node examples/…` with `require('memseal')`
 * resolved by the package's own name (self-reference through its "exports"), against the built dist/.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ROOT } from './helpers'

interface Run {
  child: ChildProcess
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
  firstLine: Promise<string>
}

function run(script: string, args: string[] = []): Run {
  const child = spawn(process.execPath, [join(ROOT, 'examples', script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c) => (stdout += c))
  child.stderr.on('data', (c) => (stderr += c))
  const firstLine = new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve))
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  )
  return { child, done, firstLine }
}

beforeAll(() => {
  // A failed setup, not a skip: the examples need the compiled package with the sharing API.
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run compile` first')

  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the compiled package, as users load it
  const api = require(join(ROOT, 'dist')) as Record<string, unknown>
  for (const name of ['share', 'receive', 'FdChannel', 'FdServer', 'sendShared', 'receiveShared']) {
    if (typeof api[name] !== 'function') throw new Error(`dist/ does not export ${name}: lib/index.ts must export the sharing API, then \`npm run compile\``)
  }
})

test('producer-consumer: the consumer verifies and reads every buffer the producer sends over a socket path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-example-'))
  const path = join(dir, 'example.sock')
  try {
    const consumer = run('producer-consumer/consumer.js', [path])
    expect(await consumer.firstLine).toBe(`listening on ${path}`)
    const producer = run('producer-consumer/producer.js', [path])
    const [p, c] = await Promise.all([producer.done, consumer.done])
    expect({ code: p.code, signal: p.signal, stderr: p.stderr }).toEqual({ code: 0, signal: null, stderr: '' })
    expect({ code: c.code, signal: c.signal, stderr: c.stderr }).toEqual({ code: 0, signal: null, stderr: '' })
    expect(p.stdout.trim().split('\n')).toEqual(['sent small (4096 bytes)', 'sent medium (1048576 bytes)', 'sent large (16777216 bytes)'])
    // Bytes are i & 0xff: a 256-byte period sums to 32640.
    expect(c.stdout.trim().split('\n').slice(1)).toEqual([
      `small: 4096 bytes, sum ${32640 * 16}`,
      `medium: 1048576 bytes, sum ${32640 * 4096}`,
      `large: 16777216 bytes, sum ${(32640 * 65536) >>> 0}`,
    ])
    expect(existsSync(path)).toBe(false) // the server removed its socket
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('stdio-child: the child verifies and reads the memfd its parent passed as fd 3', async () => {
  const r = await run('stdio-child/parent.js').done
  expect(r).toEqual({ code: 0, signal: null, stdout: 'child read 8388608 bytes, sum matches\nchild exited with 0\n', stderr: '' })
})

test('worker-threads: two workers map the same memfd and read it in place', async () => {
  const r = await run('worker-threads/main.js').done
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' })
  const sum = (0x11111111 * (8 << 20)) % 2 ** 32
  expect(r.stdout.trim().split('\n').sort()).toEqual([`worker 0 read 33554432 bytes in place, sum ${sum}`, `worker 1 read 33554432 bytes in place, sum ${sum}`])
})
