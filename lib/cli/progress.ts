/** The single updating progress line of a run: on standard error, and only when that is a terminal. */
export interface Progress {
  update(done: number, total: number, id: string): void
  clear(): void
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update: () => undefined, clear: () => undefined }
  let last = 0
  return {
    update(done, total, id) {
      const now = Date.now()
      if (now - last < 50 && done < total) return
      last = now
      const line = `[${String(done).padStart(String(total).length)}/${total}] ${id}`
      stream.write(`\r\x1b[K${line.slice(0, (stream.columns ?? 80) - 1)}`)
    },
    clear() {
      stream.write('\r\x1b[K')
    },
  }
}
