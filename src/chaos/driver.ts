import type { Fault } from '../sandbox/faults';
import type { FaultEvent } from './faultSchedule';
import type { Journal } from './journal';
import type { Lender } from './lender';
import type { LifecycleSpec } from './plans';
import { sleep } from './processes';
import type { ChaosStack } from './stack';

/**
 * Runs the fault phase: starts the book's lifecycles on time, has the lender and the user act, and carries out the
 * fault schedule (each event journaled with when it really began and ended). Then puts everything right (faults
 * cleared, primary up, clock back, every worker running) and lets the lender's pending work finish during the
 * settling phase. Every loop is bounded by the phase's end.
 */

const TICK_MS = 250;
/** At most this many lender or user calls at once (the machine has 2 cores, shared with the stack). */
const LENDER_CONCURRENCY = 12;

export interface DriverResult {
  faultPhase: { start: number; end: number };
  settle: { start: number; end: number };
  /** Sandbox faults still pending when the fault phase ended (not all injected answers were used). */
  unusedFaults: Fault[];
  workerRestarts: number;
  unexpectedWorkerExits: number;
}

export class Driver {
  private readonly tasks = new Set<Promise<void>>();
  private readonly queue: Array<() => Promise<void>> = [];
  private active = 0;
  private open = true;
  /** Workers deliberately down (killed, being restarted): the supervisor leaves them alone. */
  private readonly down = new Set<number>();
  /** Workers the supervisor is starting again after an exit of their own. */
  private readonly reviving = new Set<number>();
  private workerRestarts = 0;
  private workerOps: Promise<void> = Promise.resolve();
  private unexpectedExits = 0;

  private readonly lender: Lender;

  constructor(
    private readonly stack: ChaosStack,
    /** The lender's calls give up their waits once the run is over. */
    lender: (running: () => boolean) => Lender,
    private readonly journal: Journal,
    private readonly say: (line: string) => void,
  ) {
    this.lender = lender(() => this.open);
  }

  async run(
    book: readonly LifecycleSpec[],
    schedule: readonly FaultEvent[],
    faultSeconds: number,
    settleSeconds: number,
  ): Promise<DriverResult> {
    const start = Date.now();
    this.started = start;
    const once = (run: () => Promise<void>) => async (): Promise<'done'> => {
      await run();
      return 'done';
    };
    for (const spec of book) {
      this.at(
        spec.startAtSec,
        once(() => this.lender.open(spec)),
      );
      if (spec.authorizeAtSec !== undefined)
        this.at(
          spec.authorizeAtSec,
          once(() => this.lender.authorize(spec)),
        );
      if (spec.actAtSec !== undefined) this.at(spec.actAtSec, () => this.lender.act(spec));
      if (spec.billFinishAtSec !== undefined)
        this.at(
          spec.billFinishAtSec,
          once(() => this.lender.finishBill(spec)),
        );
      if (spec.lateResult) this.at((spec.actAtSec ?? 0) + 30, () => this.lender.lateResult(spec));
    }
    const events = [...schedule];
    let nextProgress = start + 60_000;
    const t = (): number => (Date.now() - start) / 1000;

    while (t() < faultSeconds) {
      this.release(t());
      while (events.length > 0 && events[0]!.atSec <= t()) this.spawn(this.fault(events.shift()!));
      await this.supervise();
      if (Date.now() >= nextProgress) {
        nextProgress += 60_000;
        this.say(
          `  t+${Math.round(t())}s: ${this.journal.entries.length} journal entries, ${this.queue.length} lender calls queued`,
        );
      }
      await sleep(TICK_MS);
    }
    const faultEnd = Date.now();
    const unusedFaults = await this.control(() => this.stack.control.listFaults(), []);
    await this.heal();

    // The lender's work still due (results waiting for records, late results) goes on while the stack is healthy.
    const settleStart = Date.now();
    while (Date.now() - settleStart < settleSeconds * 1000) {
      this.release(Number.POSITIVE_INFINITY);
      await this.supervise();
      await sleep(1_000);
    }
    this.open = false;
    await Promise.allSettled([...this.tasks]);
    return {
      faultPhase: { start, end: faultEnd },
      settle: { start: settleStart, end: Date.now() },
      unusedFaults,
      workerRestarts: this.workerRestarts,
      unexpectedWorkerExits: this.unexpectedExits,
    };
  }

  /** Lender and user work by time; 'wait' puts it back 15 s later, at most 40 times. */
  private readonly due: Array<{ atSec: number; run: () => Promise<'done' | 'wait'>; tries: number }> = [];
  private started = Date.now();

  private at(atSec: number, run: () => Promise<'done' | 'wait'>, tries = 0): void {
    this.due.push({ atSec, run, tries });
    this.due.sort((a, b) => a.atSec - b.atSec);
  }

  private release(untilSec: number): void {
    while (this.due.length > 0 && this.due[0]!.atSec <= untilSec) {
      const item = this.due.shift()!;
      this.enqueue(async () => {
        const outcome = await item.run();
        if (outcome === 'wait' && item.tries < 40 && this.open) {
          this.at((Date.now() - this.started) / 1000 + 15, item.run, item.tries + 1);
        }
      });
    }
  }

  private async fault(event: FaultEvent): Promise<void> {
    const { control } = this.stack;
    const begin = Date.now();
    const record = (outcome: 'ok' | 'failed', detail?: string, endAt?: number): void =>
      void this.journal.add({
        at: begin,
        actor: 'fault',
        action: event.kind,
        eventId: event.id,
        outcome,
        ...(detail ? { detail } : {}),
        ...(endAt ? { endAt } : {}),
      });
    try {
      switch (event.kind) {
        case 'worker-kill': {
          const index = event.worker as number;
          await this.restartWorkers([index], 2_000);
          return record('ok', `worker-${index + 1} killed (SIGKILL) and started again`, Date.now());
        }
        case 'worker-kill-creates-in-flight': {
          const injected = await control.injectFault(event.injections![0]!);
          const held = await this.waitForHeldCreates(injected.id);
          await this.restartWorkers(
            this.stack.workers.map((_, i) => i),
            2_000,
          );
          return record(
            held > 0 ? 'ok' : 'failed',
            `${held} create(s) executed and held unanswered when every worker was killed`,
            Date.now(),
          );
        }
        case 'dev-server-restart':
          await this.stack.restartDevServer((event.durationSec ?? 10) * 1000);
          return record('ok', 'stopped and started on the same database', Date.now());
        case 'key-rotation': {
          const cert = await control.addPlatformCertificate();
          return record('ok', `the sandbox signs with platform certificate ${cert.serial}`);
        }
        case 'primary-down':
          await control.setPrimaryDown(true);
          await this.sleepWhileOpen(event.durationSec! * 1000);
          await control.setPrimaryDown(false);
          return record('ok', undefined, Date.now());
        case 'clock-drift':
          await control.setAuthClockOffset(event.offsetMs ?? 420_000);
          await this.sleepWhileOpen(event.durationSec! * 1000);
          await control.setAuthClockOffset(0);
          return record('ok', undefined, Date.now());
        default:
          for (const injection of event.injections ?? []) await control.injectFault(injection);
          return record('ok', undefined, event.durationSec ? begin + event.durationSec * 1000 : undefined);
      }
    } catch (error) {
      record('failed', (error as Error).message, Date.now());
    }
  }

  /** Waits (at most 30 s) until the sandbox holds a create back; returns how many it held. */
  private async waitForHeldCreates(faultId: number): Promise<number> {
    for (let i = 0; i < 150; i++) {
      const fault = (await this.control(() => this.stack.control.listFaults(), [])).find((f) => f.id === faultId);
      // Gone: all its answers were used; else `seen` of them were.
      const seen = fault ? fault.seen : 20;
      if (seen > 0) {
        await sleep(1_000); // a few more arrive, none is answered yet (8 s)
        const later = (await this.control(() => this.stack.control.listFaults(), [])).find((f) => f.id === faultId);
        return later ? later.seen : 20;
      }
      await sleep(200);
    }
    return 0;
  }

  /** Kills and starts workers one operation at a time, so that overlapping events never race on one process. */
  private restartWorkers(indexes: number[], downMs: number): Promise<void> {
    const operation = this.workerOps.then(async () => {
      for (const i of indexes) this.down.add(i);
      try {
        await Promise.all(indexes.map((i) => this.stack.killWorker(i)));
        this.journal.add({
          actor: 'stack',
          action: 'workers-killed',
          outcome: 'ok',
          detail: indexes.map((i) => `worker-${i + 1}`).join(', '),
        });
        await sleep(downMs);
        await Promise.all(indexes.map((i) => this.stack.startWorker(i)));
        this.workerRestarts += indexes.length;
      } finally {
        for (const i of indexes) this.down.delete(i);
      }
    });
    this.workerOps = operation.catch(() => undefined);
    return operation;
  }

  /** A worker that exited by itself (not one of the schedule's kills) is journaled and started again. */
  private async supervise(): Promise<void> {
    if (this.stack.stopped) return;
    for (const [i, worker] of this.stack.workers.entries()) {
      if (worker.running || this.down.has(i) || this.reviving.has(i) || this.unexpectedExits >= 20) continue;
      this.unexpectedExits += 1;
      this.journal.add({ actor: 'stack', action: 'worker-exited', outcome: 'failed', detail: `worker-${i + 1}` });
      this.say(`  worker-${i + 1} exited by itself; starting it again`);
      this.reviving.add(i);
      this.spawn(
        this.restartWorkers([i], 0)
          .catch((error: unknown) => this.say(`  worker-${i + 1} did not start: ${(error as Error).message}`))
          .finally(() => this.reviving.delete(i)),
      );
    }
  }

  /** Everything healthy again: no faults, primary up, clock back, every worker running. */
  private async heal(): Promise<void> {
    const { control } = this.stack;
    // A kill still queued behind another finishes first: the settling phase has every worker running throughout.
    await this.workerOps;
    await this.control(() => control.clearFaults(), undefined);
    await this.control(() => control.setPrimaryDown(false), undefined);
    await this.control(() => control.setAuthClockOffset(0), undefined);
    this.journal.add({ actor: 'stack', action: 'healed', outcome: 'ok' });
  }

  private async sleepWhileOpen(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.open && Date.now() < end) await sleep(Math.min(500, end - Date.now()));
  }

  private async control<T>(call: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await call();
    } catch {
      return fallback;
    }
  }

  private enqueue(run: () => Promise<void>): void {
    this.queue.push(run);
    this.pump();
  }

  private pump(): void {
    while (this.active < LENDER_CONCURRENCY && this.queue.length > 0) {
      const run = this.queue.shift()!;
      this.active += 1;
      this.spawn(
        run()
          .catch((error: unknown) => void this.say(`  lender call failed: ${(error as Error).message}`))
          .finally(() => {
            this.active -= 1;
            this.pump();
          }),
      );
    }
  }

  private spawn(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }
}
