import { log } from '@temporalio/workflow';
import { pollJitterMs } from '../../domain/installments';
import type { SigningState } from '../../activities';
import { querySigning } from './activities';
import type { LifecycleCore } from './core';

/**
 * The contract's signature (seed 002), before scheduling: poll until AUTHORIZED (or take the lender's signal), and
 * at the deadline decide from the last VERIFIED answer: a poll in flight or retrying when the deadline passes
 * finishes first, and only a verified "not signed" after the deadline is evidence. While signed, the contract's
 * state is checked now and then: a verified UNAUTHORIZED after AUTHORIZED means the user terminated it.
 */

export const SIGNING_KEY = 'signing';
export const CONTRACT_KEY = 'contract';

const nowIso = (): string => new Date(Date.now()).toISOString();

export class SigningStep {
  constructor(private readonly core: LifecycleCore) {}

  deadline(): number {
    return Date.parse(this.core.state.signingStartedAt) + this.core.policy.signingDeadlineHours * 3_600_000;
  }

  /** Not signed yet: poll, or decide at the deadline. */
  step(now: number): void {
    const { core } = this;
    if (core.legacy) return this.legacyStep(now);
    if (core.busy(SIGNING_KEY)) return;
    const deadline = this.deadline();
    const lastAnswer = core.state.lastSigningAnswerAt ? Date.parse(core.state.lastSigningAnswerAt) : undefined;
    if (now >= deadline && lastAnswer !== undefined && lastAnswer >= deadline) {
      core.requestStop({
        kind: 'failure',
        evidence: 'NOT_SIGNED',
        reason: `contract not signed within ${core.policy.signingDeadlineHours} hours`,
      });
      return;
    }
    const retryAt = this.retryAt(SIGNING_KEY);
    if (retryAt !== undefined && retryAt > now) return;
    const next = core.state.nextSigningPollAt;
    const pollDue = core.plan.signature.mode === 'poll' && (next === undefined || Date.parse(next) <= now);
    // At the deadline every mode asks once more: a lost "signed" signal must not end a signed contract.
    if (pollDue || now >= deadline || retryAt !== undefined) {
      core.launch(SIGNING_KEY, 'signing', () => this.pollSigning());
    }
  }

  /**
   * Signed: check now and then that the contract is still in force, while a record is scheduled at WeChat Pay (it
   * could be collected after the user ended the contract). A lifecycle asleep until a window opens stays asleep: a
   * create on an ended contract is refused, and that refusal checks the contract anyway.
   */
  checkContract(now: number): void {
    const { core } = this;
    const { state } = core;
    if (core.legacy || core.busy(CONTRACT_KEY)) return;
    if (!this.recordsScheduled()) {
      delete state.nextContractCheckAt;
      core.faults.clear(CONTRACT_KEY);
      return;
    }
    if (state.nextContractCheckAt === undefined) {
      state.nextContractCheckAt = new Date(now + this.checkIntervalMs()).toISOString();
      return;
    }
    const retryAt = this.retryAt(CONTRACT_KEY);
    const due = retryAt ?? Date.parse(state.nextContractCheckAt);
    if (due <= now) core.launch(CONTRACT_KEY, 'contract', () => this.runContractCheck());
  }

  /** Wake-up times this step needs. */
  wakeTimes(): number[] {
    const { core } = this;
    const { state } = core;
    const times: number[] = [];
    if (!state.signed) {
      if (core.legacy || Date.now() < this.deadline()) times.push(this.deadline());
      if (state.nextSigningPollAt && !core.busy(SIGNING_KEY)) times.push(Date.parse(state.nextSigningPollAt));
    } else if (!core.legacy && !core.busy(CONTRACT_KEY) && state.nextContractCheckAt && this.recordsScheduled()) {
      times.push(Date.parse(state.nextContractCheckAt));
    }
    if (!core.legacy) {
      for (const key of [SIGNING_KEY, CONTRACT_KEY]) {
        const retryAt = this.retryAt(key);
        if (retryAt !== undefined && !core.busy(key)) times.push(retryAt);
      }
    }
    return times;
  }

  markSigned(signedTime: string | undefined): void {
    const { state } = this.core;
    if (state.signed) return;
    state.signed = true;
    state.signedTime = signedTime ?? nowIso();
    delete state.nextSigningPollAt;
    this.core.events.contractSigned(state.signedTime);
  }

  /**
   * Asks WeChat Pay now whether the user terminated the contract (after a refused create): true when a verified
   * answer says the contract, once AUTHORIZED, no longer is (the lifecycle is then stopping). Failures propagate.
   */
  async userTerminated(): Promise<boolean> {
    const answer = await this.query();
    return this.judge(answer);
  }

  private async pollSigning(): Promise<void> {
    const { core } = this;
    if (core.legacy) {
      const answer = await this.query();
      core.state.nextSigningPollAt = this.nextPoll();
      if (answer.found && answer.authState === 'AUTHORIZED') this.markSigned(answer.signedTime);
      return;
    }
    let answer: SigningState;
    try {
      answer = await this.query();
    } catch (error) {
      const failure = core.classify(error);
      core.state.nextSigningPollAt = new Date(
        core.faults.failed('signing', undefined, failure, Date.now()),
      ).toISOString();
      return;
    }
    core.faults.clear(SIGNING_KEY);
    core.state.nextSigningPollAt = this.nextPoll();
    if (answer.found && answer.authState === 'AUTHORIZED') {
      core.state.authorizedSeen = true;
      this.markSigned(answer.signedTime);
    } else {
      core.state.lastSigningAnswerAt = nowIso();
    }
  }

  private async runContractCheck(): Promise<void> {
    const { core } = this;
    let answer: SigningState;
    try {
      answer = await this.query();
    } catch (error) {
      core.faults.failed('contract', undefined, core.classify(error), Date.now());
      return;
    }
    core.faults.clear(CONTRACT_KEY);
    core.state.nextContractCheckAt = new Date(Date.now() + this.checkIntervalMs()).toISOString();
    if (!answer.found) log.warn('contract check: the signing query does not find the contract');
    this.judge(answer);
  }

  private judge(answer: SigningState): boolean {
    const { core } = this;
    if (answer.found && answer.authState === 'AUTHORIZED') {
      core.state.authorizedSeen = true;
      return false;
    }
    if (!answer.found || !core.state.authorizedSeen) return false;
    core.requestStop({
      kind: 'failure',
      evidence: 'USER_TERMINATED',
      reason: `the contract is no longer authorized at WeChat Pay (${answer.authState}): terminated by the user`,
    });
    return true;
  }

  private recordsScheduled(): boolean {
    return this.core.state.installments.some((r) => r.state === 'SCHEDULED' || r.state === 'POLLING');
  }

  private query(): Promise<SigningState> {
    return querySigning({ outContractCode: this.core.plan.outContractCode, appid: this.core.plan.appid });
  }

  private nextPoll(): string {
    return new Date(Date.now() + this.core.policy.signingPollIntervalSeconds * 1000).toISOString();
  }

  /**
   * The check interval, spread per contract (stable across replays) over up to an hour, and never on the same
   * instant as the daily polls, so that a book does not check in lockstep.
   */
  private checkIntervalMs(): number {
    const { core } = this;
    const intervalMs = core.policy.contractCheckIntervalMinutes * 60_000;
    const spreadSeconds = Math.min(3600, Math.floor(intervalMs / 4000));
    const spread = pollJitterMs(`${core.plan.outContractCode}#contract`, core.state.continuedAsNewCount, spreadSeconds);
    return intervalMs + 60_000 + spread;
  }

  private retryAt(key: string): number | undefined {
    const retryAt = this.core.faults.get(key)?.retryAt;
    return retryAt === undefined ? undefined : Date.parse(retryAt);
  }

  private legacyStep(now: number): void {
    const { core } = this;
    if (now >= this.deadline()) {
      core.requestStop({
        kind: 'failure',
        evidence: 'NOT_SIGNED',
        reason: `contract not signed within ${core.policy.signingDeadlineHours} hours`,
      });
      return;
    }
    const next = core.state.nextSigningPollAt;
    if (
      core.plan.signature.mode === 'poll' &&
      !core.busy(SIGNING_KEY) &&
      (next === undefined || Date.parse(next) <= now)
    ) {
      core.launch(SIGNING_KEY, 'signing', () => this.pollSigning());
    }
  }
}
