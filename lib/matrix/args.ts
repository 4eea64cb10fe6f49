/** The command line of `memseal matrix`. */
import { type AccelRequest } from './accel'
import { splitOption } from '../cli/args'
import { UsageError } from '../cli/usage'

export const USAGE = `Usage: memseal matrix [--kernel SPEC]... [--json FILE] [--markdown FILE] [--html FILE] [--ktap FILE]
                      [--accel auto|kvm|tcg] [--no-host] [--strict] [--timeout SECONDS] [--cache DIR]
                      [--refresh] [--install-deps] [--command 'CMD ...']

Boots each kernel under qemu with the host's root shared read-only, runs \`memseal check --json\`
inside it, and prints per-kernel totals, the clauses whose outcome differs between kernels, the
features older kernels lack, and a verdict (the host's own run is the first column).

  --kernel SPEC     a Debian kernel series (5.10, 6.1, 6.12, any X.Y in sid/experimental),
                    sid|newest (the newest kernel Debian offers), experimental, or a local kernel
                    ./IMAGE[:MODULES_DIR] or an unpacked package directory. Repeatable.
                    ARCH:SPEC boots another architecture: arm64:6.1 runs Debian's arm64 kernel
                    under qemu-system-aarch64 (TCG) in a Debian arm64 userland, with the package's
                    prebuilds/linux-arm64 addon (npm run prebuilds). Default: 5.10 6.1 6.12 newest.
  --json FILE       also write the matrix as JSON ('-' for stdout); one file per CI job, merged
                    with \`memseal report merge\`
  --markdown FILE   also write it as Markdown ('-' for stdout)
  --html FILE       also write one self-contained HTML page: the clause x kernel grid with filters
  --ktap FILE       also write KTAP (the kernel's test format): one test per kernel, a subtest per area
  --strict          also fail on known divergences
  --accel MODE      auto (KVM when a guest really boots with it, else TCG), kvm or tcg. Default auto.
  --no-host         do not run the suite on the host
  --timeout SEC     per kernel, boot and run together (default 300)
  --cache DIR       where packages and kernels are kept (default $MEMSEAL_CACHE, $XDG_CACHE_HOME/memseal
                    or ~/.cache/memseal)
  --refresh         refresh the Debian package lists even if they are recent
  --install-deps    first install qemu (qemu-system-arm too for arm64 kernels), busybox-static and
                    the decompressors with apt-get (scripts/matrix-deps.sh; needs root or sudo)
  --command CMD     the command run in each guest and on the host, split on spaces
                    (default: node dist/cli.js check --json)

Exit status: 0 when every kernel produced a report and no clause diverges or is broken; 1 otherwise;
2 for usage errors. Needs qemu, busybox-static, dpkg and apt-get: --install-deps (scripts/matrix-deps.sh)
installs them on Debian and Ubuntu.`

export const DEFAULT_KERNELS = ['5.10', '6.1', '6.12', 'newest']

export interface MatrixArgs {
  kernels: string[]
  json: string | null
  markdown: string | null
  html: string | null
  ktap: string | null
  strict: boolean
  accel: AccelRequest
  host: boolean
  timeoutMs: number
  cacheDir: string | null
  refresh: boolean
  installDeps: boolean
  command: string[] | null
  help: boolean
}

export { UsageError }

export function parseArgs(argv: string[]): MatrixArgs {
  const a: MatrixArgs = {
    kernels: [],
    json: null,
    markdown: null,
    html: null,
    ktap: null,
    strict: false,
    accel: 'auto',
    host: true,
    timeoutMs: 300_000,
    cacheDir: null,
    refresh: false,
    installDeps: false,
    command: null,
    help: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const { name: flag, inline } = splitOption(arg)
    const value = (): string => {
      if (inline !== undefined) return inline
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--kernel':
      case '-k':
        a.kernels.push(value())
        break
      case '--json':
        a.json = value()
        break
      case '--markdown':
      case '--md':
        a.markdown = value()
        break
      case '--html':
        a.html = value()
        break
      case '--ktap':
        a.ktap = value()
        break
      case '--strict':
        a.strict = true
        break
      case '--accel': {
        const v = value()
        if (v !== 'auto' && v !== 'kvm' && v !== 'tcg') throw new UsageError(`--accel must be auto, kvm or tcg, not "${v}"`)
        a.accel = v
        break
      }
      case '--no-host':
        a.host = false
        break
      case '--timeout': {
        const v = Number(value())
        if (!Number.isFinite(v) || v <= 0) throw new UsageError('--timeout needs a positive number of seconds')
        a.timeoutMs = v * 1000
        break
      }
      case '--cache':
        a.cacheDir = value()
        break
      case '--refresh':
        a.refresh = true
        break
      case '--install-deps':
        a.installDeps = true
        break
      case '--command': {
        const words = value()
          .split(/\s+/)
          .filter((w) => w !== '')
        if (words.length === 0) throw new UsageError('--command needs a command')
        a.command = words
        break
      }
      case '--help':
      case '-h':
        a.help = true
        break
      default:
        throw new UsageError(`unknown argument "${arg}"`)
    }
  }
  if (a.kernels.length === 0) a.kernels = [...DEFAULT_KERNELS]
  a.kernels = [...new Set(a.kernels)]
  return a
}
