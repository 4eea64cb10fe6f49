/**
 * The guest's /init: a busybox shell script that loads the 9p modules, mounts the host's root
 * read-only, gives it fresh /proc, /sys, /dev, /dev/shm, /tmp, /run and /var/tmp, chroots into it
 * and runs the command as root. The command's stdout, stderr and exit status go to a writable 9p
 * share, which also holds the command's HOME (a writable directory that is not tmpfs); the console
 * (ttyS0) only carries progress markers and kernel messages.
 */

/** 9p mount tags shared between qemu.ts and the guest init. */
export const TAG_HOST_ROOT = 'hostroot'
export const TAG_PROJECT = 'project'
export const TAG_OUT = 'out'

/** Lines the guest prints on its console so the host can follow and time the boot. */
export const MARK_INIT = 'memseal-init: start'
export const MARK_RUN = 'memseal-init: run'
export const MARK_EXIT = 'memseal-init: exit'
export const MARK_FAIL = 'memseal-init: failed'

/** Where the out share appears inside the chroot (on the guest's own /run tmpfs). */
export const GUEST_OUT_DIR = '/run/memseal-matrix'

/** The command's HOME: on the out share, so on 9p, not tmpfs. */
export const GUEST_HOME = `${GUEST_OUT_DIR}/home`

/** The per-clause time limit the suite is asked to use inside a guest. */
export const GUEST_CLAUSE_TIMEOUT_MS = 60_000

const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface InitOptions {
  /** Module names in load order; their files are `/modules/<name>.ko`. */
  modules: string[]
  /** The project directory on the host; mounted at the same path inside the chroot. */
  projectDir: string
  /** argv of the command, run with `projectDir` as working directory. */
  command: string[]
  /** Extra environment for the command. */
  env?: Record<string, string>
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

export function initScript(o: InitOptions): string {
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
    ...o.env,
  }
  const envWords = Object.entries(env)
    .map(([k, v]) => q(`${k}=${v}`))
    .join(' ')
  const inner = `cd ${q(o.projectDir)} && exec ${o.command.map(q).join(' ')}`
  const ninep = 'trans=virtio,version=9p2000.L,msize=262144'
  return `#!/bin/busybox sh
# memseal matrix guest init (generated)
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "${MARK_FAIL}: $*"; sync; reboot -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "${MARK_INIT} $(uname -r)"
for m in ${o.modules.map(q).join(' ')}; do
  insmod "/modules/$m.ko" || fail "insmod $m"
done
R=/newroot
mount -t 9p -o ${ninep},ro,cache=loose ${TAG_HOST_ROOT} $R || fail "mount host root"
mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/shm $R/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/dev/shm || fail "mount /dev/shm"
mount -t devpts devpts $R/dev/pts
for d in /tmp /run /var/tmp; do
  if [ -d "$R$d" ]; then mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R$d" || fail "mount $d"; fi
done
mkdir -p $R${q(o.projectDir)} $R${GUEST_OUT_DIR}
mount -t 9p -o ${ninep},ro,cache=loose ${TAG_PROJECT} $R${q(o.projectDir)} || fail "mount project"
mount -t 9p -o ${ninep} ${TAG_OUT} $R${GUEST_OUT_DIR} || fail "mount out"
mkdir -p $R${GUEST_HOME}
echo "${MARK_RUN}"
chroot $R /usr/bin/env -i ${envWords} /bin/sh -c ${q(inner)} >$R${GUEST_OUT_DIR}/stdout 2>$R${GUEST_OUT_DIR}/stderr
status=$?
echo $status >$R${GUEST_OUT_DIR}/status
sync
umount $R${GUEST_OUT_DIR}
echo "${MARK_EXIT} $status"
reboot -f
`
}
