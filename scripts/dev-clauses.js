'use strict'
// Developer harness: runs catalog clauses in this process (never in the CLI or a jest worker) and prints
// status, expected and observed. Usage: node scripts/dev-clauses.js [id-prefix ...]  (after npm run build)
const { join } = require('node:path')
const dist = join(__dirname, '..', 'dist', 'conformance')
const { catalog } = require(join(dist, 'clauses', 'index.js'))
const { Ctx } = require(join(dist, 'ctx.js'))
const { judge, show } = require(join(dist, 'evaluate.js'))
const { kernel } = require(join(__dirname, '..', 'dist', 'kernel.js'))

const prefixes = process.argv.slice(2)
const facts = { release: kernel.release, version: kernel.version, machine: kernel.machine, features: kernel.features(), environment: kernel.environment() }
;(async () => {
  const counts = {}
  for (const clause of catalog) {
    if (prefixes.length && !prefixes.some((p) => clause.id.startsWith(p))) continue
    const missing = (clause.needs ?? []).filter((n) => n in facts.features && !facts.features[n])
    let line
    if (missing.length) line = `skip      ${clause.id}  (needs ${missing.join(', ')})`
    else {
      const ctx = new Ctx()
      try {
        const observed = await clause.run(ctx)
        const v = judge(clause, observed, facts)
        line = `${v.status.padEnd(9)} ${clause.id}  expected: ${show(v.expected)}  observed: ${show(observed)}${v.known ? `  [${v.known.ref}]` : ''}`
        counts[v.status] = (counts[v.status] ?? 0) + 1
      } catch (err) {
        line = `broken    ${clause.id}  ${err && err.stack}`
        counts.broken = (counts.broken ?? 0) + 1
      } finally {
        ctx.release()
      }
    }
    console.log(line)
  }
  console.log(counts)
})()
