/**
 * Where the suite runs: inside a container or not, which engine made it, and the seccomp filter the
 * process lives under. A container never changes the kernel (uname is the host's), but its seccomp
 * profile changes what the kernel is allowed to answer: Docker's and Podman's default profiles make
 * mseal(2) fail with ENOSYS on kernels that have it. The report names both so that a skip can say why.
 *
 * Detection reads files only; nothing here makes a syscall that a profile could refuse. Marker files
 * such as /.dockerenv can outlive the container they were made in (a VM image built from a container
 * image keeps them), so a marker file alone counts only when the process is not in the initial pid
 * namespace; live evidence (cgroup paths, bind mounts the engine made, pid 1's `container` variable)
 * counts on its own. The approach follows systemd's detect_container() (src/basic/virt.c).
 * @see https://systemd.io/CONTAINER_INTERFACE/
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs'

export type ContainerEngine = 'docker' | 'podman' | 'containerd' | 'lxc' | 'kubernetes' | 'systemd-nspawn' | 'unknown'

export interface ContainerInfo {
  container: boolean
  /** The engine, when container is true; 'unknown' when only generic evidence says so. */
  engine: ContainerEngine | null
  /** What was looked at and what it showed, for the report and for people who doubt the answer. */
  evidence: string[]
}

export interface SeccompStatus {
  /** 0: none, 1: strict, 2: filter (what container engines install). */
  mode: 0 | 1 | 2
  /** Number of filters stacked on this process; 0 where the kernel predates the field (Linux 5.9). */
  filters: number
}

/**
 * Inode of the initial pid namespace: PROC_PID_INIT_INO (0xEFFFFFFC) in include/linux/proc_ns.h.
 * A process that sees it is not in a container's pid namespace.
 */
export const INITIAL_PID_NAMESPACE_INODE = 0xeffffffc

/** Engines that name themselves in `container=` (pid 1's environment, /run/host/container-manager). */
const MANAGER_NAMES: Record<string, ContainerEngine> = {
  docker: 'docker',
  podman: 'podman',
  oci: 'unknown',
  lxc: 'lxc',
  'lxc-libvirt': 'lxc',
  'systemd-nspawn': 'systemd-nspawn',
}

/** cgroup path fragments that engines leave in /proc/<pid>/cgroup (cgroup v1, or v2 without cgroupns). */
const CGROUP_PATTERNS: ReadonlyArray<[RegExp, ContainerEngine]> = [
  [/\/kubepods[./]/, 'kubernetes'],
  [/\/libpod-[0-9a-f]{12,}|\/libpod_parent\//, 'podman'],
  [/\/docker[-/][0-9a-f]{12,}|\/actions_job\/[0-9a-f]{12,}/, 'docker'],
  [/\/cri-containerd-[0-9a-f]{12,}|\/containerd\//, 'containerd'],
  [/\/lxc\/|\/lxc\.payload[./]/, 'lxc'],
  [/\/machine\.slice\/.*systemd-nspawn|\/machine-[^/]+\.scope/, 'systemd-nspawn'],
]

/** Bind mounts of /etc/hostname, /etc/hosts, /etc/resolv.conf name the engine's state directory. */
const BIND_SOURCE_PATTERNS: ReadonlyArray<[RegExp, ContainerEngine]> = [
  [/\/kubelet\/pods\//, 'kubernetes'],
  [/\/overlay-containers\/[0-9a-f]{64}\/userdata\//, 'podman'],
  [/\/containers\/[0-9a-f]{64}\/(hostname|hosts|resolv\.conf)$/, 'docker'],
  [/\/io\.containerd\.[^/]+\/sandboxes\//, 'containerd'],
]

const BIND_TARGETS = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'])

/** Preference when several engines leave evidence: the orchestrator over the engine beneath it. */
const PRECEDENCE: ContainerEngine[] = ['kubernetes', 'podman', 'docker', 'systemd-nspawn', 'lxc', 'containerd', 'unknown']

function readText(path: string): { text: string } | { error: string } {
  try {
    return { text: readFileSync(path, 'utf8') }
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? String(e) }
  }
}

/** The pid namespace inode of this process, or null where /proc does not say. */
export function pidNamespaceInode(): number | null {
  try {
    const m = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** Decodes one mountinfo field (spaces and backslashes are octal escapes, see proc_pid_mountinfo(5)). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/**
 * Is this process in a container, and whose? See the file comment for how evidence is weighed.
 */
export function detectContainer(): ContainerInfo {
  const evidence: string[] = []
  const live: ContainerEngine[] = []
  const markers: ContainerEngine[] = []

  // Marker files: the engine writes them into the container's root; they may be stale.
  if (existsSync('/.dockerenv')) {
    markers.push('docker')
    evidence.push('/.dockerenv exists')
  }
  if (existsSync('/run/.containerenv')) {
    const body = readText('/run/.containerenv')
    const engine = 'text' in body ? /^engine="([a-z-]+)/m.exec(body.text)?.[1] : undefined
    markers.push(engine === 'buildah' || !engine ? 'podman' : (MANAGER_NAMES[engine] ?? 'podman'))
    evidence.push(`/run/.containerenv exists${engine ? ` (engine="${engine}")` : ''}`)
  }

  // The `container` variable the engine gives pid 1, or the file systemd-nspawn writes for it.
  const pid1 = readText('/proc/1/environ')
  if ('text' in pid1) {
    const value = pid1.text
      .split('\0')
      .find((v) => v.startsWith('container='))
      ?.slice('container='.length)
    if (value) {
      live.push(MANAGER_NAMES[value] ?? 'unknown')
      evidence.push(`pid 1 has container=${value}`)
    } else {
      evidence.push('pid 1 has no container= variable')
    }
  } else {
    evidence.push(`/proc/1/environ is unreadable (${pid1.error})`)
  }
  for (const path of ['/run/host/container-manager', '/run/systemd/container']) {
    const file = readText(path)
    if ('text' in file && file.text.trim()) {
      const value = file.text.trim()
      live.push(MANAGER_NAMES[value] ?? 'unknown')
      evidence.push(`${path} says ${value}`)
    }
  }

  if (process.env.KUBERNETES_SERVICE_HOST) {
    live.push('kubernetes')
    evidence.push('KUBERNETES_SERVICE_HOST is set')
  }

  // cgroup paths: engines name their cgroups; with cgroup namespaces (v2 default) the path is just '/'.
  for (const path of ['/proc/1/cgroup', '/proc/self/cgroup']) {
    const file = readText(path)
    if (!('text' in file)) continue
    const hit = CGROUP_PATTERNS.find(([re]) => re.test(file.text))
    if (hit) {
      live.push(hit[1])
      const line = file.text.split('\n').find((l) => hit[0].test(l)) ?? ''
      evidence.push(`${path} names ${hit[1]}: ${line.trim()}`)
      break
    }
  }

  // mountinfo: the root file system, and bind mounts from the engine's per-container directory.
  const mountinfo = readText('/proc/self/mountinfo')
  if ('text' in mountinfo) {
    for (const line of mountinfo.text.split('\n')) {
      const [left, right] = line.split(' - ')
      if (!left || !right) continue
      const fields = left.split(' ')
      const source = unescapeMountField(fields[3] ?? '')
      const target = unescapeMountField(fields[4] ?? '')
      const [fstype, device] = right.split(' ')
      if (target === '/') {
        evidence.push(`/ is ${fstype} (${device})`)
      } else if (BIND_TARGETS.has(target)) {
        const hit = BIND_SOURCE_PATTERNS.find(([re]) => re.test(source))
        if (hit) {
          live.push(hit[1])
          evidence.push(`${target} is bind-mounted from ${source} (${hit[1]})`)
        }
      }
    }
  } else {
    evidence.push(`/proc/self/mountinfo is unreadable (${mountinfo.error})`)
  }
  const overlayRoot = evidence.some((e) => /^\/ is overlay /.test(e))

  const inode = pidNamespaceInode()
  const initialPidNs = inode === INITIAL_PID_NAMESPACE_INODE
  evidence.push(
    inode === null
      ? 'the pid namespace is unknown (/proc/self/ns/pid unreadable)'
      : initialPidNs
        ? `the pid namespace is the initial one (${inode})`
        : `the pid namespace is not the initial one (${inode})`,
  )

  let found: ContainerEngine[] = live
  if (found.length === 0 && markers.length > 0) {
    if (initialPidNs) {
      evidence.push('marker files alone, in the initial pid namespace: taken as left over from an image, not a container')
    } else {
      found = markers
    }
  }
  if (found.length === 0 && overlayRoot && inode !== null && !initialPidNs) found = ['unknown']
  if (found.length === 0) return { container: false, engine: null, evidence }
  const engine = PRECEDENCE.find((e) => found.includes(e)) ?? 'unknown'
  return { container: true, engine, evidence }
}

/** The seccomp mode and filter count of this process, from /proc/self/status (proc_pid_status(5)). */
export function seccompStatus(): SeccompStatus {
  const status = readText('/proc/self/status')
  return 'text' in status ? parseSeccompStatus(status.text) : { mode: 0, filters: 0 }
}

/** The `Seccomp:` and `Seccomp_filters:` fields of a /proc/<pid>/status text (absent: 0). */
export function parseSeccompStatus(status: string): SeccompStatus {
  const field = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)
    return m ? Number(m[1]) : null
  }
  const raw = field('Seccomp') ?? 0
  const mode: 0 | 1 | 2 = raw === 1 ? 1 : raw === 2 ? 2 : 0
  return { mode, filters: field('Seccomp_filters') ?? 0 }
}

/**
 * How to lift a seccomp block on `syscall`, in the words of the engine that runs us (one sentence, for
 * a skip reason). The shipped profile docker/seccomp-mseal.json is the engine's default plus mseal.
 */
export function seccompAdvice(syscall: string, engine: ContainerEngine | null = detectContainer().engine): string {
  const profile = 'docker/seccomp-mseal.json from the memseal repository (the default profile plus mseal)'
  const custom = syscall === 'mseal' ? profile : `a profile that also allows ${syscall}`
  switch (engine) {
    case 'docker':
    case 'podman':
    case 'unknown':
    case null: {
      const cli = engine === 'podman' ? 'podman run' : 'docker run'
      return (
        `the container's seccomp profile blocks ${syscall}; to lift it, run the container with ` +
        `\`${cli} --security-opt seccomp=unconfined\`, or with \`--security-opt seccomp=<file>\` naming ${custom}; ` +
        "a profile that lists it only works where the runtime's libseccomp knows the name"
      )
    }
    case 'kubernetes':
      return (
        `the pod's seccomp profile blocks ${syscall}; to lift it, set securityContext.seccompProfile to ` +
        `{ type: Unconfined }, or to { type: Localhost, localhostProfile: <file> } naming ${custom}`
      )
    case 'containerd':
      return (
        `the container's seccomp profile blocks ${syscall}; to lift it, run it without the default profile ` +
        `(nerdctl run --security-opt seccomp=unconfined) or with ${custom}`
      )
    case 'systemd-nspawn':
      return `systemd-nspawn's system call filter blocks ${syscall}; to lift it, add --system-call-filter=${syscall}`
    case 'lxc':
      return `the container's seccomp policy blocks ${syscall}; to lift it, set lxc.seccomp.profile to a policy ` + `that allows it, or leave it empty`
  }
}
