#!/usr/bin/env bash
# Proves the arm64 prebuild on an arm64 kernel, from a clean clone: builds the TypeScript and the
# prebuilds, packs the npm package and unpacks it (so the guest loads prebuilds/linux-arm64, never a
# build/ of this tree), installs its runtime dependencies, then boots Debian's arm64 kernel under
# qemu-system-aarch64 (TCG) in a Debian arm64 userland and runs `memseal check --json` there, with
# the host's own run (the x64 prebuild from the same package) as the first column. A second, short
# boot prints the addon's constants on both architectures, to show where arm64 differs.
# Writes $ARM64_OUT (default arm64-out/): matrix.json, matrix.md, constants.json, constants.md.
# Usage: scripts/arm64-proof.sh [SERIES...]   (default: 6.1 6.12; any --kernel series, e.g. newest)
# 6.1 predates memfd's noexec flags (6.3) and mseal (6.10), so only 6.12 runs those clauses on arm64.
# Needs root or sudo for apt-get (qemu-system-arm, the cross compiler); $MEMSEAL_CACHE is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
series=("$@")
[ "${#series[@]}" -gt 0 ] || series=(6.1 6.12)
kernels=()
for s in "${series[@]}"; do kernels+=(--kernel "arm64:$s"); done
out="${ARM64_OUT:-arm64-out}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
started=$(date +%s)
step() { echo "== arm64 proof [$(( $(date +%s) - started )) s]: $*" >&2; }

if [ ! -d node_modules ]; then
  step "installing the development dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
fi
step "compiling the TypeScript"
npm run compile >&2
if [ ! -f prebuilds/linux-arm64/memseal.node ] || [ ! -f prebuilds/linux-x64/memseal.node ]; then
  step "making the prebuilds (x64 and cross-compiled arm64)"
  npm run prebuilds >&2
fi
file prebuilds/linux-arm64/memseal.node >&2 || true

step "packing the npm package"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The hugetlb clauses re-run node as an unprivileged user, who must be able to read the package.
chmod 755 "$scratch"
tarball=$(npm pack --silent --pack-destination "$scratch" | tail -n 1)
tar -xzf "$scratch/$tarball" -C "$scratch"
pkg="$scratch/package"
[ -f "$pkg/prebuilds/linux-arm64/memseal.node" ] || { echo "arm64 proof: the package has no prebuilds/linux-arm64" >&2; exit 1; }
[ ! -e "$pkg/build" ] || { echo "arm64 proof: the package carries a build/ directory" >&2; exit 1; }
# Runtime dependencies only, and no install script: the prebuilds must be what loads.
(cd "$pkg" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock >&2)

step "installing qemu-system-arm and friends"
sh scripts/matrix-deps.sh arm64 >&2

step "booting Debian's arm64 ${series[*]} kernels and running the conformance suite"
status=0
(cd "$pkg" && node dist/cli.js matrix "${kernels[@]}" --timeout 1200 \
  --json "$out/matrix.json" --markdown "$out/matrix.md") || status=$?
[ -s "$out/matrix.json" ] || { echo "arm64 proof: the matrix wrote no report (exit $status)" >&2; exit 1; }

step "reading the addon's constants on both architectures"
# No spaces: --command splits on them. The report fields the matrix needs, plus what we compare.
probe='JSON.stringify({kernel:{release:require("os").release(),machine:require("os").machine()},results:[],arch:process.arch,node:process.version,pageSize:require("./dist/native").native.constants.PAGE_SIZE,constants:require("./dist/native").native.constants})'
(cd "$pkg" && node -p "$probe") >"$scratch/host-constants.json"
(cd "$pkg" && node dist/cli.js matrix --kernel "arm64:${series[0]}" --no-host --timeout 300 \
  --command "node -p $probe" --json "$scratch/guest-constants.json" >/dev/null)
# The syscall numbers are compiled in (native/compat.h); read them back from each prebuild: the
# last constant loaded into the first argument register (x0/w0, %edi) before each call of syscall().
syscalls_of() { # objdump, file
  "$1" -d --no-show-raw-insn "$2" 2>/dev/null | awk '
    /mov[ \t]+[xw]0, #0x[0-9a-f]+/ { match($0, /#0x[0-9a-f]+/); last = substr($0, RSTART + 1, RLENGTH - 1) }
    /mov[ \t]+\$0x[0-9a-f]+,%edi/ { match($0, /\$0x[0-9a-f]+/); last = substr($0, RSTART + 1, RLENGTH - 1) }
    /(call|bl)[ \t].*<syscall@plt>/ { if (last != "") print last; last = "" }' |
    while read -r n; do printf '%d\n' "$n"; done | sort -un | tr '\n' ' '
}
host_nrs=$(syscalls_of objdump "$pkg/prebuilds/linux-x64/memseal.node" || true)
arm_nrs=$(syscalls_of aarch64-linux-gnu-objdump "$pkg/prebuilds/linux-arm64/memseal.node" || true)
HOST_NRS="$host_nrs" ARM_NRS="$arm_nrs" node - "$scratch/host-constants.json" "$scratch/guest-constants.json" "$out" <<'EOF'
const { readFileSync, writeFileSync } = require('node:fs')
const [hostFile, guestFile, out] = process.argv.slice(2)
const host = JSON.parse(readFileSync(hostFile, 'utf8'))
const guestRun = JSON.parse(readFileSync(guestFile, 'utf8')).kernels[0]
if (!guestRun.report) { console.error(`constants boot failed: ${guestRun.error}`); process.exit(1) }
const guest = guestRun.report
const names = [...new Set([...Object.keys(host.constants), ...Object.keys(guest.constants)])].sort()
const differ = names.filter((n) => host.constants[n] !== guest.constants[n])
const nrs = (s) => (s || '').trim().split(/\s+/).filter(Boolean).map(Number)
const result = {
  host: { arch: host.arch, node: host.node, release: host.kernel.release, pageSize: host.pageSize, syscallsInPrebuild: nrs(process.env.HOST_NRS) },
  guest: { arch: guest.arch, node: guest.node, release: guest.kernel.release, pageSize: guest.pageSize, syscallsInPrebuild: nrs(process.env.ARM_NRS) },
  differ: Object.fromEntries(differ.map((n) => [n, { [host.arch]: host.constants[n] ?? null, [guest.arch]: guest.constants[n] ?? null }])),
  same: names.length - differ.length,
}
writeFileSync(`${out}/constants.json`, JSON.stringify(result, null, 2) + '\n')
const md = ['# memseal constants: x64 vs arm64', '',
  `x64: Node ${host.node}, ${host.kernel.release}; arm64: Node ${guest.node}, ${guest.kernel.release} (guest).`, '',
  `${result.same} constants are equal; these differ:`, '', `| constant | ${host.arch} | ${guest.arch} |`, '|---|---|---|',
  ...differ.map((n) => `| ${n} | ${host.constants[n] ?? '–'} | ${guest.constants[n] ?? '–'} |`), '',
  `Syscall numbers passed to syscall(2) in the prebuilds: x64 ${result.host.syscallsInPrebuild.join(', ') || '?'}; arm64 ${result.guest.syscallsInPrebuild.join(', ') || '?'}.`, '']
writeFileSync(`${out}/constants.md`, md.join('\n'))
process.stdout.write(md.join('\n'))
EOF

step "done; the matrix exited with $status"
sed -n '/^## Kernels$/,/^## Environments/p' "$out/matrix.md" | sed '$d'
exit "$status"
