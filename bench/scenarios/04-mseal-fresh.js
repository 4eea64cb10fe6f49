'use strict'
// Scenario 4: mseal(2) of a fresh anonymous page: Mapping.anonymous(4096) then seal(). Sealed pages stay
// mapped until the process exits, so the runner measures each batch in a child process (isolate), as the
// C baseline is its own process.
const { Mapping } = require('../..')
const { timePerOp } = require('./clock')

const kept = []

function once() {
  const view = Mapping.anonymous(4096, { protection: 'rw' })
  view.seal()
  kept.push(view) // a sealed mapping cannot be unmapped; keeping it saves the finalizer a failing munmap
}

module.exports = {
  id: 'mseal-fresh',
  title: 'mseal of a fresh anonymous page (mmap + mseal), child per batch',
  c: 'mseal_fresh',
  iterations: 5000,
  isolate: true,
  straceNote: 'strace -c leaves out syscall 462 (mseal) when its table predates it; both sides make one per operation',
  measure(iterations, warmup) {
    return timePerOp(once, iterations, warmup)
  },
}
