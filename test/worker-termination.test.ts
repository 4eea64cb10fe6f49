// Worker threads terminated in the middle of the addon's work must not take the process down, and must
// leave nothing behind. test/fixtures/terminate-workers.js runs the scenarios in a child process (an old
// build aborted there with "FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw").
import { runFixture, SLOW } from './helpers'

// Fewer rounds under the sanitizers, where every worker start is several times slower.
const ROUNDS = SLOW > 1 ? 8 : 25

test.each([
  ['map', 'Mapping.anonymous + unmap in a loop'],
  ['views', 'the same with a window and the whole buffer written each time'],
  ['memfd', 'Memfd.create + write + map + close in a loop, a third of them dropped'],
  ['receive', 'receiveShared() in a loop on a channel kept busy'],
  ['partial', 'receive() of a message left half sent, with its descriptors'],
])(
  `${ROUNDS} workers terminated at random moments during %s (%s): the process survives, nothing is left`,
  (scenario) => {
    const r = runFixture('terminate-workers', [scenario, String(ROUNDS)], ['--expose-gc'])
    expect({ status: r.status, signal: r.signal, fatal: /FATAL ERROR/.test(r.stderr) }).toEqual({ status: 0, signal: null, fatal: false })
    const out = JSON.parse(r.stdout) as {
      done: Record<string, number>
      errors: string[]
      before: number
      after: number
      leftover: string[]
      maps: number
      live: number
    }
    // Every worker ran until it was terminated (no error of its own); their memfds, channel sockets,
    // received descriptors and mappings are all gone (closed by the environments' teardown, not leaked).
    expect({ done: out.done, errors: out.errors }).toEqual({ done: { [scenario]: ROUNDS }, errors: [] })
    expect({ after: out.after, leftover: out.leftover, maps: out.maps, live: out.live }).toEqual({ after: out.before, leftover: [], maps: 0, live: 0 })
  },
  120_000 * SLOW,
)
