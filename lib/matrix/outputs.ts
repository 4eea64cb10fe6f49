/**
 * Writes a matrix report in the formats asked for and prints the terminal report: shared by
 * `memseal matrix` and `memseal report merge`. Each file written is named on its own line before the
 * verdict. An output named `-` goes to stdout, and the terminal report then goes to stderr.
 */
import { writeFileSync } from 'node:fs'
import { formatMatrixHtml } from '../conformance/reporters/html'
import { formatMatrixKtap } from '../conformance/reporters/ktap'
import { analyse } from './model'
import { buildCells, renderJson, renderMarkdown } from './table'
import { renderTerminal } from './terminal'
import { type MatrixReport } from './types'

export interface OutputRequest {
  json: string | null
  markdown: string | null
  html: string | null
  ktap: string | null
  strict?: boolean
}

/** Writes what was asked, prints the terminal report, and returns whether the matrix passed. */
export function emitMatrix(m: MatrixReport, request: OutputRequest): boolean {
  const analysis = analyse(m, { strict: request.strict })
  const cells = buildCells(m.kernels, m.clauses)
  const formats: Array<[string | null, string, () => string]> = [
    [request.json, 'JSON', () => renderJson(m, cells, analysis)],
    [request.markdown, 'Markdown', () => `${renderMarkdown(m, cells, analysis)}\n`],
    [request.html, 'HTML', () => formatMatrixHtml(m, analysis)],
    [request.ktap, 'KTAP', () => formatMatrixKtap(m, { strict: request.strict })],
  ]
  const wrote: Array<[string, string]> = []
  let toStdout = false
  for (const [target, format, render] of formats) {
    if (target === null) continue
    if (target === '-') {
      process.stdout.write(render())
      toStdout = true
    } else {
      writeFileSync(target, render())
      wrote.push([target, format])
    }
  }
  const stream = toStdout ? process.stderr : process.stdout
  stream.write(renderTerminal(m, { wrote, strict: request.strict, color: stream.isTTY === true && !process.env.NO_COLOR }, analysis))
  return analysis.verdict.passed
}
