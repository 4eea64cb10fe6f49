'use strict'
// Emits dist/index.mjs: an ES module facade over the CommonJS build, so `import { Memfd } from 'memseal'`
// works with named exports (the addon is loaded once, by the CommonJS side).
const { writeFileSync } = require('node:fs')
const { join } = require('node:path')
const api = require(join(__dirname, '..', 'dist', 'index.js'))
const names = Object.keys(api).filter((n) => n !== 'default' && n !== '__esModule')
const body = [
  "import { createRequire } from 'node:module'",
  "const api = createRequire(import.meta.url)('./index.js')",
  `export const { ${names.join(', ')} } = api`,
  'export default api',
  '',
].join('\n')
writeFileSync(join(__dirname, '..', 'dist', 'index.mjs'), body)
