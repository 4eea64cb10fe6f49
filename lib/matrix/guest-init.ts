/**
 * What runs in the guest. The initramfs's /init is the same for every command: it loads the 9p
 * modules, mounts the writable control share (`out`) and hands over to the job script the host wrote
 * there for this boot. So one initramfs per kernel serves the suite, `memseal run` and any command.
 *
 * The job script mounts the root (the host's own, read-only, or a foreign userland), gives it fresh
 * /proc, /sys, /dev, /dev/shm, /tmp, /run and /var/tmp, mounts the extra shares (the project where the
 * root does not show it, hoisted dependencies, a writable scratch directory), chroots and runs the
 * command as root. Its stdout, stderr and exit status go to the control share, which is also the
 * command's HOME (a writable directory that is not tmpfs); the console (ttyS0) only carries progress
 * markers and kernel messages.
 */

/** 9p mount tags shared between qemu.ts and the guest. */
export const TAG_ROOT = 'hostroot'
export const TAG_OUT = 'out'
/** Extra shares are `share0`, `share1` … */
export const TAG_SHARE = 'share'

/** Lines the guest prints on its console so the host can follow and time the boot. */
export const MARK_INIT = 'memseal-init: start'
export const MARK_RUN = 'memseal-init: run'
export const MARK_EXIT = 'memseal-init: exit'
export const MARK_FAIL = 'memseal-init: failed'

/** The job script's name on the control share. */
export const JOB_FILE = 'job.sh'

/** Where the control share appears inside the chroot (on the guest's own /run tmpfs). */
export const GUEST_OUT_DIR = '/run/memseal-matrix'

/** The command's HOME: on the control share, so on 9p, not tmpfs. */
export const GUEST_HOME = `${GUEST_OUT_DIR}/home`

/** The per-clause time limit the suite is asked to use inside a guest. */
export const GUEST_CLAUSE_TIMEOUT_MS = 60_000

const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const NINEP = 'trans=virtio,version=9p2000.L,msize=262144'

/** A host directory the guest sees at `guestPath`. */
export interface Share {
  hostPath: string
  guestPath: string
  readonly: boolean
}

export interface GuestJob {
  /** argv of the command. */
  command: string[]
  /** Its working directory inside the guest. */
  cwd: string
  /** Extra environment for the command (PATH, HOME, LANG … are set already). */
  env?: Record<string, string>
  /** Shares mounted in the guest's root, in this order (parents before what they hold). */
  shares: Share[]
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** The initramfs's /init: modules, the control share, then the job script found there. */
export function initScript(modules: string[]): string {
  return `#!/bin/busybox sh
# memseal guest init (generated)
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "${MARK_FAIL}: $*"; sync; reboot -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "${MARK_INIT} $(uname -r)"
for m in ${modules.map(shellQuote).join(' ')}; do
  insmod "/modules/$m.ko" || fail "insmod $m"
done
mkdir -p /ctl
mount -t 9p -o ${NINEP} ${TAG_OUT} /ctl || fail "mount the control share"
[ -f /ctl/${JOB_FILE} ] || fail "no job script on the control share"
. /ctl/${JOB_FILE}
`
}

/** The job script for one boot, sourced by /init with /ctl the control share. */
export function jobScript(job: GuestJob): string {
  const q = shellQuote
  // HOME is a writable directory on 9p: clauses that need a regular file outside tmpfs (where seals
  // are EINVAL) look there, since everything else writable in the guest is tmpfs.
  // Under TCG node runs 15-20 times slower than on the host, so the suite's per-clause time limit
  // (10 s, made for the host) is raised for guests.
  const env = {
    PATH: GUEST_PATH,
    HOME: GUEST_HOME,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    MEMSEAL_MATRIX_GUEST: '1',
    MEMSEAL_CLAUSE_TIMEOUT_MS: String(GUEST_CLAUSE_TIMEOUT_MS),
    ...job.env,
  }
  const envWords = Object.entries(env)
    .map(([k, v]) => q(`${k}=${v}`))
    .join(' ')
  const inner = `cd ${q(job.cwd)} && exec ${job.command.map(q).join(' ')}`
  const shares = job.shares.map((s, i) => {
    const where = `$R${q(s.guestPath)}`
    return `mkdir -p ${where} 2>/dev/null; mount -t 9p -o ${NINEP}${s.readonly ? ',ro,cache=loose' : ''} ${TAG_SHARE}${i} ${where} || fail ${q(`mount ${s.guestPath}`)}`
  })
  return `# memseal guest job (generated for one boot)
R=/newroot
mkdir -p $R
mount -t 9p -o ${NINEP},ro,cache=loose ${TAG_ROOT} $R || fail "mount the root"
mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/shm $R/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/dev/shm || fail "mount /dev/shm"
mount -t devpts devpts $R/dev/pts
for d in /tmp /run /var/tmp; do
  if [ -d "$R$d" ]; then mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R$d" || fail "mount $d"; fi
done
mkdir -p $R${GUEST_OUT_DIR}
mount -o bind /ctl $R${GUEST_OUT_DIR} || fail "bind the control share"
mkdir -p /ctl/home
${shares.join('\n')}
echo "${MARK_RUN}"
chroot $R /usr/bin/env -i ${envWords} /bin/sh -c ${q(inner)} </dev/null >/ctl/stdout 2>/ctl/stderr
status=$?
echo $status >/ctl/status
sync
umount $R${GUEST_OUT_DIR}
umount /ctl
echo "${MARK_EXIT} $status"
reboot -f
`
}
