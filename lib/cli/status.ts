/**
 * The exit statuses of `memseal`, one meaning each, so that a script can tell a kernel that diverges from
 * a report that could not be written. The README lists them; every command returns one of these.
 */
export const EXIT = {
  /** Nothing diverges or is broken (with --strict: nothing known either). */
  ok: 0,
  /** A clause diverges or is broken (with --strict: or is known). */
  failed: 1,
  /** The command line is wrong: nothing was run. */
  usage: 2,
  /** memseal itself failed: a bug, reported with its stack (sysexits.h's EX_SOFTWARE). */
  software: 70,
  /** An output could not be written: a report file, or standard output (sysexits.h's EX_IOERR). */
  io: 74,
} as const

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT]

/**
 * What a shell reports for a process killed by SIGPIPE (128 + 13): a reader that closed the pipe early
 * (`memseal list | head -1`) ends memseal as it ends every other Unix tool.
 */
export const SIGPIPE_STATUS = 141
