import { WorkflowNotFoundError } from '@temporalio/client';
import {
  LifecycleNotFoundError,
  ModificationRejectedError,
  PlanValidationError,
  type RepaymentClient,
} from '../client';
import { workflowIdFor } from '../domain/plan';
import type { SandboxControlClient } from '../sandbox/controlClient';
import { repaymentResultSignal } from '../workflows/definitions';
import type { Journal } from './journal';
import type { LifecycleSpec } from './plans';
import { sleep } from './processes';

/**
 * The lender (through the lender client) and the user (through the sandbox's control API) acting on each lifecycle
 * of the book, as a real lender would: results only once WeChat Pay holds a record, the same result twice, a result
 * naming a record that does not exist, a result after the lifecycle ended. Every call is journaled; one that cannot
 * be delivered (Temporal down) is retried a bounded number of times and arrives late.
 */

const ATTEMPTS = 12;
const RETRY_MS = 10_000;

export class Lender {
  constructor(
    private readonly client: RepaymentClient,
    private readonly control: SandboxControlClient,
    private readonly journal: Journal,
    /** False once the run is over: pending waits give up. */
    private readonly running: () => boolean,
  ) {}

  /** Puts the contract in the sandbox (signed now for 'at-once') and starts its lifecycle. */
  async open(spec: LifecycleSpec): Promise<void> {
    const { plan } = spec;
    await this.deliver(spec, 'user', 'contract', () =>
      this.control.createContract({
        outContractCode: plan.outContractCode,
        contractId: plan.contractId,
        appid: plan.appid,
        openid: plan.openid,
        authorized: spec.signing === 'at-once',
      }),
    );
    await this.deliver(spec, 'lender', 'start', () => this.client.startLifecycle(plan));
    if (spec.signing === 'at-once' && plan.signature.mode === 'signal') {
      await this.deliver(spec, 'lender', 'confirm-signed', () => this.client.confirmSigned(plan.outContractCode));
    }
  }

  /** The user signs in WeChat; in signal mode the lender hears of it and says so. */
  async authorize(spec: LifecycleSpec): Promise<void> {
    await this.deliver(spec, 'user', 'authorize', () => this.control.authorizeContract(spec.plan.outContractCode));
    if (spec.plan.signature.mode === 'signal') {
      await this.deliver(spec, 'lender', 'confirm-signed', () => this.client.confirmSigned(spec.plan.outContractCode));
    }
  }

  /** 'wait': not yet possible (no record at WeChat Pay yet, the lifecycle still running): ask again later. */
  async act(spec: LifecycleSpec): Promise<'done' | 'wait'> {
    const code = spec.plan.outContractCode;
    switch (spec.behaviour) {
      case 'cancel':
        await this.deliver(spec, 'lender', 'cancel', () => this.client.cancel(code, 'chaos run: the lender cancels'));
        return 'done';
      case 'user-terminate':
        await this.deliver(spec, 'user', 'user-terminate', () => this.control.terminateAsUser(code));
        return 'done';
      case 'bill':
        await this.deliver(spec, 'lender', 'bill-created', () =>
          this.control.createBill({ outBillNo: billNo(spec), amount: 1000 + spec.index }),
        );
        await this.deliver(spec, 'lender', 'bill-reported', () =>
          this.client.reportCompensationBill(code, billNo(spec)),
        );
        return 'done';
      case 'fail':
        return this.fail(spec);
      case 'settle':
        return this.settle(spec);
      case 'monitor':
        return 'done';
    }
  }

  async finishBill(spec: LifecycleSpec): Promise<void> {
    await this.deliver(spec, 'lender', 'bill-finished', () => this.control.setBillState(billNo(spec), 'SUCCESS'));
  }

  /** A failed repayment of the first installment WeChat Pay holds. */
  private async fail(spec: LifecycleSpec): Promise<'done' | 'wait'> {
    const ids = await this.scheduledIds(spec);
    if (ids === undefined) return 'wait';
    await this.deliver(spec, 'lender', 'failed-result', () =>
      this.client.reportRepaymentResult(spec.plan.outContractCode, {
        outRecordId: ids[0]!,
        outcome: 'FAILED',
        reason: 'chaos run: insufficient balance',
      }),
    );
    return 'done';
  }

  /** Every installment repaid, once WeChat Pay holds a record of the lifecycle; the odd messages as the spec says. */
  private async settle(spec: LifecycleSpec): Promise<'done' | 'wait'> {
    const code = spec.plan.outContractCode;
    if ((await this.scheduledIds(spec)) === undefined) return 'wait';
    const status = await this.deliver(spec, 'lender', 'status', () => this.client.getStatus(code));
    if (!status) return 'done';
    if (spec.wrongIdResult) {
      const wrong = { outRecordId: `RWRONG${spec.index}`, outcome: 'SUCCESS' as const };
      await this.deliver(spec, 'lender', 'wrong-id-update', () => this.client.reportRepaymentResult(code, wrong));
      await this.deliver(spec, 'lender', 'wrong-id-signal', () =>
        this.client.temporal.workflow.getHandle(workflowIdFor(code)).signal(repaymentResultSignal, wrong),
      );
    }
    for (const installment of status.installments) {
      const result = {
        outRecordId: installment.outRecordId,
        outcome: 'SUCCESS' as const,
        amount: installment.repaymentAmount,
        transactionId: `4200CHAOS${spec.index}${installment.outRecordId.slice(-4)}`,
      };
      await this.deliver(
        spec,
        'lender',
        'result',
        () => this.client.reportRepaymentResult(code, result),
        result.outRecordId,
      );
      if (spec.duplicateResult) {
        await this.deliver(spec, 'lender', 'duplicate-result', () => this.client.reportRepaymentResult(code, result));
        await this.deliver(spec, 'lender', 'duplicate-result-signal', () =>
          this.client.temporal.workflow.getHandle(workflowIdFor(code)).signal(repaymentResultSignal, result),
        );
      }
    }
    return 'done';
  }

  /** After the lifecycle has ended, a result for its first installment: must be refused and change nothing. */
  async lateResult(spec: LifecycleSpec): Promise<'done' | 'wait'> {
    const code = spec.plan.outContractCode;
    const reported = this.journal.done(code, 'result');
    if (!reported?.detail) return 'wait';
    try {
      const info = await this.client.temporal.workflow.getHandle(workflowIdFor(code)).describe();
      if (info.status.name === 'RUNNING') return 'wait';
    } catch {
      return 'wait';
    }
    await this.deliver(spec, 'lender', 'late-result', () =>
      this.client.reportRepaymentResult(code, { outRecordId: reported.detail!, outcome: 'FAILED', reason: 'late' }),
    );
    return 'done';
  }

  /** The out_record_ids WeChat Pay holds for the contract; undefined while it holds none (or cannot be asked). */
  private async scheduledIds(spec: LifecycleSpec): Promise<string[] | undefined> {
    try {
      const records = await this.control.listRecords(spec.plan.contractId);
      return records.length > 0 ? records.map((r) => r.out_record_id).sort() : undefined;
    } catch {
      return undefined;
    }
  }

  /** One call, retried while it fails for want of Temporal or the sandbox; a refusal is an answer, journaled. */
  private async deliver<T>(
    spec: LifecycleSpec,
    actor: 'lender' | 'user',
    action: string,
    call: () => Promise<T>,
    detail?: string,
  ): Promise<T | undefined> {
    const code = spec.plan.outContractCode;
    let last: unknown;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const value = await call();
        this.journal.add({ actor, action, code, outcome: 'ok', attempts: attempt, ...(detail ? { detail } : {}) });
        return value;
      } catch (error) {
        last = error;
        if (isRefusal(error)) {
          this.journal.add({
            actor,
            action,
            code,
            outcome: 'refused',
            attempts: attempt,
            detail: (error as Error).message,
          });
          return undefined;
        }
      }
      if (!this.running()) break;
      await sleep(RETRY_MS);
    }
    this.journal.add({ actor, action, code, outcome: 'failed', attempts: ATTEMPTS, detail: (last as Error)?.message });
    return undefined;
  }
}

export function billNo(spec: LifecycleSpec): string {
  return `B${spec.plan.outContractCode}`;
}

/** An answer that says no (validation, a stopped or closed lifecycle, a sandbox state rule), not a failure to reach. */
function isRefusal(error: unknown): boolean {
  if (
    error instanceof PlanValidationError ||
    error instanceof ModificationRejectedError ||
    error instanceof LifecycleNotFoundError ||
    error instanceof WorkflowNotFoundError
  ) {
    return true;
  }
  const status = (error as { httpStatus?: unknown }).httpStatus;
  return typeof status === 'number' && status >= 400 && status < 500;
}
