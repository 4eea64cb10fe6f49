/** `memseal info`: the kernel, its probed features and the environment, without running the suite. */
import { kernel, type FeatureName } from '../kernel'
import { environmentText, reportEnvironment, toolVersion } from '../conformance/report'
import { kernelFacts } from '../conformance/runner'
import { featureReason } from '../conformance/skip'
import { parseOptions, type OptionSpecs } from './args'
import { EXIT } from './status'

export const INFO_OPTIONS: OptionSpecs = { '--json': { kind: 'flag' } }

export const INFO_USAGE = `Usage: memseal info [--json]

Prints the kernel, the features memseal probes on it (with why a missing one is missing) and the
environment (seccomp, container, vm.memfd_noexec, pid namespace, privileges, hugetlb pools).

  --json        print kernel, features and environment as JSON
  -h, --help    this text
`

export function infoMain(argv: string[]): Promise<number> {
  const o = parseOptions(argv, INFO_OPTIONS, 'info')
  if (o.help) {
    process.stdout.write(INFO_USAGE)
    return Promise.resolve(EXIT.ok)
  }
  const facts = kernelFacts()
  const info = {
    tool: { name: 'memseal', version: toolVersion() },
    kernel: { release: facts.release, version: facts.version, machine: facts.machine },
    environment: reportEnvironment(facts.environment),
    features: facts.features.probes,
    hugetlbSizes: facts.features.hugetlbSizes,
  }
  if (o.flag('--json')) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`)
    return Promise.resolve(EXIT.ok)
  }
  const lines = [
    `memseal ${info.tool.version}`,
    `Kernel: ${kernel.release} (${kernel.machine}), version ${kernel.version.join('.')}`,
    `Environment: ${environmentText(info.environment)}`,
    '',
    'Features:',
  ]
  const names = Object.keys(facts.features.probes) as FeatureName[]
  const width = Math.max(...names.map((n) => n.length))
  for (const name of names) {
    const p = facts.features.probes[name]
    lines.push(`  ${name.padEnd(width)}  ${p.ok ? 'yes' : 'no '}  since ${p.since}${p.ok ? '' : `  ${featureReason(name, p, facts)}`}`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  return Promise.resolve(EXIT.ok)
}
