/** Progress lines on stderr while kernels download and boot, stamped with the elapsed time. */
export type ProgressSink = (spec: string, message: string) => void

export function stderrProgress(start: number = Date.now(), write: (s: string) => void = (s) => process.stderr.write(s)): ProgressSink {
  return (spec, message) => {
    const t = ((Date.now() - start) / 1000).toFixed(1).padStart(6)
    write(`memseal matrix [${t}s] ${spec}: ${message}\n`)
  }
}

export const silentProgress: ProgressSink = () => {}
