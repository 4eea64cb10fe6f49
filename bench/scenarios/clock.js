'use strict'
/**
 * Shared by the memseal scenarios: runs `once` warm-up times untimed, then `iterations` times, and
 * returns { ns, cpuNs } per operation: wall time from process.hrtime.bigint() and the process's CPU time
 * (all threads, as the C baselines measure theirs), which a loaded machine disturbs less.
 */
function timePerOp(once, iterations, warmup) {
  for (let i = 0; i < warmup; i++) once()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) once()
  const wall = Number(process.hrtime.bigint() - t0)
  const cpu = process.cpuUsage(cpu0)
  return { ns: wall / iterations, cpuNs: ((cpu.user + cpu.system) * 1000) / iterations }
}

module.exports = { timePerOp }
