/**
 * A small Chrome DevTools Protocol client over --remote-debugging-pipe (fds 3 and 4, NUL-separated
 * JSON), for the HTML report's test in a real headless Chromium: Debian's `chromium`, started with
 * the flags that keep it from reaching for the network and with a new empty profile, which it needs
 * on a closed network not to hang.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'

export const CHROMIUM = process.env.MEMSEAL_CHROMIUM ?? '/usr/bin/chromium'

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--remote-debugging-pipe',
]

interface Pending {
  resolve: (value: Record<string, unknown>) => void
  reject: (error: Error) => void
  method: string
}

type Listener = (params: Record<string, unknown>, sessionId?: string) => void

export class Chromium {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly listeners = new Map<string, Listener[]>()
  private buffer = ''
  readonly stderr: string[] = []

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const input = child.stdio[4] as Readable
    input.setEncoding('utf8')
    input.on('data', (chunk: string) => {
      this.buffer += chunk
      for (let at = this.buffer.indexOf('\0'); at >= 0; at = this.buffer.indexOf('\0')) {
        const message = JSON.parse(this.buffer.slice(0, at)) as {
          id?: number
          result?: Record<string, unknown>
          error?: { message: string }
          method?: string
          params?: Record<string, unknown>
          sessionId?: string
        }
        this.buffer = this.buffer.slice(at + 1)
        if (message.id !== undefined) {
          const p = this.pending.get(message.id)
          this.pending.delete(message.id)
          if (message.error) p?.reject(new Error(`${p.method}: ${message.error.message}`))
          else p?.resolve(message.result ?? {})
        } else if (message.method) {
          for (const l of this.listeners.get(message.method) ?? []) l(message.params ?? {}, message.sessionId)
        }
      }
    })
    child.stderr?.on('data', (b: Buffer) => this.stderr.push(b.toString()))
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited while waiting for ${p.method}: ${this.stderr.join('').slice(-500)}`))
      this.pending.clear()
    })
  }

  static available(): boolean {
    return existsSync(CHROMIUM)
  }

  static launch(): Chromium {
    const profile = mkdtempSync(join(tmpdir(), 'memseal-chromium-'))
    // The browser is not memseal: under test:asan the sanitizer runtimes are preloaded into every child
    // (LD_PRELOAD), and Chromium, which has allocators and sandboxes of its own, does not start with them.
    const { LD_PRELOAD: _preload, ...env } = process.env
    const child = spawn(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env,
    })
    return new Chromium(child, profile)
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method })
      ;(this.child.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`)
    })
  }

  on(method: string, listener: Listener): void {
    this.listeners.set(method, [...(this.listeners.get(method) ?? []), listener])
  }

  /** Waits for one event, with a deadline. */
  once(method: string, timeoutMs = 20_000, sessionId?: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs)
      this.on(method, (params, sid) => {
        if (sessionId && sid !== sessionId) return
        clearTimeout(timer)
        resolve(params)
      })
    })
  }

  /** A new page (tab) attached in flat mode: commands for it carry its session id. */
  async newPage(): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string }
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string }
    return new Page(this, sessionId)
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve()
      else this.child.once('exit', () => resolve())
    })
    this.send('Browser.close').catch(() => undefined)
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
    for (const fd of [3, 4]) (this.child.stdio[fd] as Readable | Writable | null)?.destroy()
    this.child.stderr?.destroy()
    // The browser's helper processes may still be writing the profile for a moment.
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  }
}

export class Page {
  constructor(
    readonly browser: Chromium,
    readonly sessionId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId)
  }

  async navigate(url: string): Promise<void> {
    await this.send('Page.enable')
    const loaded = this.browser.once('Page.loadEventFired', 20_000, this.sessionId)
    const r = (await this.send('Page.navigate', { url })) as { errorText?: string }
    if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`)
    await loaded
  }

  /** Evaluates an expression in the page and returns its value (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as {
      result: { value?: T }
      exceptionDetails?: { text: string; exception?: { description?: string } }
    }
    if (r.exceptionDetails) throw new Error(`evaluate: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`)
    return r.result.value as T
  }

  /** A real mouse click (pressed and released) at the centre of the element `selector` names. */
  async click(selector: string): Promise<void> {
    const box = await this.evaluate<{ x: number; y: number } | null>(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 } })()`,
    )
    if (!box) throw new Error(`nothing matches ${selector}`)
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await this.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 })
    }
  }

  async screenshot(): Promise<Buffer> {
    const r = (await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false })) as { data: string }
    return Buffer.from(r.data, 'base64')
  }
}
