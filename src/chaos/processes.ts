import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A child process of the chaos stack: its output appended to a log file (which the checker scans), a short tail
 * kept for waiting on a line, start/kill/restart with the same command. Every wait is bounded.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private tail = '';
  private readonly log: WriteStream;
  private readonly waiters = new Set<() => void>();
  /** How many times it was started. */
  starts = 0;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is running already`);
    this.tail = '';
    const child = spawn(this.command, this.args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.starts += 1;
    const onData = (chunk: Buffer): void => {
      this.log.write(chunk);
      this.tail = (this.tail + chunk.toString('utf8')).slice(-200_000);
      for (const waiter of this.waiters) waiter();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** Resolves with the first match in the output since the last start; rejects on exit or after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.tail);
        if (match) finish(() => resolve(match));
        else if (!this.running)
          finish(() => reject(new Error(`${this.name} exited before ${pattern}:\n${this.tail.slice(-3000)}`)));
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`${this.name}: no ${pattern} within ${timeoutMs} ms:\n${this.tail.slice(-3000)}`)),
          ),
        timeoutMs,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      void this.exited.then(check);
      check();
    });
  }

  /** Sends the signal and waits for the exit (SIGKILL after `graceMs` if it has not gone by then). */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.kill('SIGTERM');
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `probe` until it returns a value, at most `timeoutMs` (also the end-to-end tests' helper). */
export async function waitUntil<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}
