/** FORCE_COLOR values that turn colour on, as Node's tty.WriteStream#getColorDepth reads them. */
const FORCE_ON = new Set(['', '1', '2', '3', 'true'])

/**
 * Whether to colour output on `stream`, reading the environment as Node and chalk do:
 * - NO_COLOR set to anything but the empty string turns colour off, whatever else is set (no-color.org);
 * - FORCE_COLOR set to '', '1', '2', '3' or 'true' turns it on, also into a pipe or a file; set to
 *   anything else ('0', 'false') it turns colour off, also on a terminal;
 * - otherwise colour goes to a terminal only, and not to one whose TERM is 'dumb'.
 */
export function useColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  const force = env.FORCE_COLOR
  if (force !== undefined) return FORCE_ON.has(force)
  return stream.isTTY === true && env.TERM !== 'dumb'
}
