/** The kernel log as records read from /dev/kmsg without blocking (for the clauses that look for a message). */
import { closeSync, constants as fsc, openSync, readSync } from 'node:fs'

export interface KmsgRecord {
  seq: number
  /** Microseconds since boot. */
  usec: number
  text: string
}

/** Throws the open error (ENOENT, EPERM …) when the log cannot be read. */
export function readKmsg(): KmsgRecord[] {
  // O_NONBLOCK: the end of the log is EAGAIN, not a wait for new records
  const fd = openSync('/dev/kmsg', fsc.O_RDONLY | fsc.O_NONBLOCK)
  const records: KmsgRecord[] = []
  const buf = Buffer.alloc(16384)
  try {
    for (;;) {
      let n: number
      try {
        n = readSync(fd, buf, 0, buf.length, null)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EPIPE') continue // records were overwritten while reading: go on with the next
        if (code === 'EAGAIN') break
        throw err
      }
      const line = buf.toString('utf8', 0, n)
      const head = (line.split(';')[0] ?? '').split(',')
      records.push({ seq: Number(head[1]), usec: Number(head[2]), text: line.slice(line.indexOf(';') + 1).split('\n')[0] ?? '' })
    }
  } finally {
    closeSync(fd)
  }
  return records
}
