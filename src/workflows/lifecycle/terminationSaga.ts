import { condition, log } from '@temporalio/workflow';
import type { SigningState, TerminationAnswer } from '../../activities';
import type { StopRequest, TerminationRecord } from '../../domain/status';
import { terminationRemark } from '../../domain/termination';
import { querySigning, terminateContract } from './activities';
import type { LifecycleCore } from './core';
import { legacyTerminate } from './legacy';

/**
 * Ends the contract at WeChat Pay (seed 004) once per lifecycle, after the lifecycle decided to stop on evidence.
 * The record of it is carried across continue-as-new, so it is never sent twice. Infrastructure failures are
 * retried on the lifecycle's own timer (alert past the threshold); after an unknown outcome the next call asks the
 * signing query first. A verified refusal counts as "already terminated" only on evidence (the signing query finds
 * the contract no longer authorized, or "no such contract" from both); otherwise it raises TERMINATION_REFUSED and
 * is retried on a long timer, so that a contract is never left in force unnoticed.
 */

export const TERMINATE_KEY = 'terminate';
/** Plain ASCII, far below the limit: used when WeChat Pay refuses the remark we built (PARAM_ERROR). */
const FALLBACK_REMARK = 'Terminated by the repayment lifecycle';

const nowIso = (): string => new Date(Date.now()).toISOString();

export class TerminationSaga {
  /** The last error of the terminate call while it is being retried (status). */
  error: string | undefined;
  private retryNow = false;

  constructor(private readonly core: LifecycleCore) {}

  /** An operator asked to retry a refused termination now (resolveAlert). */
  wake(): void {
    this.retryNow = true;
  }

  async run(stop: StopRequest): Promise<void> {
    const { core } = this;
    const { state } = core;
    if (state.termination) return;
    if (stop.evidence === 'USER_TERMINATED') {
      // WeChat Pay already says the contract is no longer in force: nothing to send.
      state.termination = { remark: stop.reason, at: nowIso(), alreadyTerminated: true };
      return;
    }
    let remark = terminationRemark(
      stop.kind === 'cancel' ? `Cancelled by the lender: ${stop.reason}` : `Repayment lifecycle failed: ${stop.reason}`,
    );
    if (core.legacy) {
      state.termination = await legacyTerminate(core, remark, (error) => (this.error = error));
      return;
    }
    // Knowing the contract was in force lets a terminate whose outcome is unknown be confirmed by the signing query
    // instead of being sent again (once terminated, a contract never signed and one signed look alike).
    if (!state.authorizedSeen && stop.evidence !== 'NOT_SIGNED') await this.learnWhetherAuthorized();
    for (;;) {
      const done = await this.attempt(remark);
      if (done) {
        state.termination = done;
        delete state.terminationOutcomeUnknown;
        core.faults.clear(TERMINATE_KEY);
        this.error = undefined;
        return;
      }
      const fault = core.faults.get(TERMINATE_KEY);
      if (fault?.kind === 'TERMINATION_REFUSED' && remark !== FALLBACK_REMARK && /PARAM_ERROR/.test(fault.lastError)) {
        // The remark itself may be what is refused: never retry the same refusal forever.
        remark = FALLBACK_REMARK;
        continue;
      }
      const retryAt = fault?.retryAt
        ? Date.parse(fault.retryAt)
        : Date.now() + core.policy.terminationRetryMinutes * 60_000;
      this.retryNow = false;
      await condition(() => this.retryNow, Math.max(1, retryAt - Date.now()));
      await core.continueAsNewIfDue();
    }
  }

  private async learnWhetherAuthorized(): Promise<void> {
    const signing = await this.signingState('before terminating');
    if (signing?.found && signing.authState === 'AUTHORIZED') this.core.state.authorizedSeen = true;
  }

  /**
   * The signing query's verified answer, or undefined when it failed: not knowing only costs a resend after an
   * unknown outcome (which WeChat Pay refuses harmlessly) or another round of the termination.
   */
  private async signingState(when: string): Promise<SigningState | undefined> {
    const { plan } = this.core;
    try {
      return await querySigning({ outContractCode: plan.outContractCode, appid: plan.appid });
    } catch (error) {
      log.warn(`signing query failed ${when}`, { error: this.core.classify(error).message });
      return undefined;
    }
  }

  /** One round: the record of a done termination, or undefined after recording why not. */
  private async attempt(remark: string): Promise<TerminationRecord | undefined> {
    const { core } = this;
    const { plan, state } = core;
    let answer: TerminationAnswer;
    try {
      answer = await terminateContract({
        outContractCode: plan.outContractCode,
        remark,
        ...(state.authorizedSeen ? { authorizedAppid: plan.appid } : {}),
        ...(state.terminationOutcomeUnknown ? { reconcileFirst: true } : {}),
      });
    } catch (error) {
      const failure = core.classify(error);
      this.error = failure.message;
      if (failure.outcomeUnknown) state.terminationOutcomeUnknown = true;
      if (failure.class === 'infrastructure') {
        core.faults.failed('terminate', undefined, failure, Date.now());
        return undefined;
      }
      log.warn('contract termination refused', { error: failure.message });
      // Only a business-state refusal or "no such contract" may mean "already terminated"; the query decides.
      const notFound = failure.errorClass === 'NOT_FOUND';
      if ((notFound || failure.code === 'INVALID_REQUEST') && (await this.confirmAlreadyTerminated(notFound))) {
        return { remark, at: nowIso(), alreadyTerminated: true };
      }
      const retryAt = Date.now() + core.policy.terminationRetryMinutes * 60_000;
      core.faults.decision('terminate', undefined, 'TERMINATION_REFUSED', failure.message, Date.now());
      core.faults.get(TERMINATE_KEY)!.retryAt = new Date(retryAt).toISOString();
      return undefined;
    }
    return { remark, at: nowIso(), alreadyTerminated: answer.confirmedBySigningQuery === true };
  }

  /**
   * Evidence that a refused terminate is done: after a business-state refusal, the signing query finds the contract
   * not authorized; after "no such contract", the signing query does not find it either.
   */
  private async confirmAlreadyTerminated(refusedAsNotFound: boolean): Promise<boolean> {
    const signing = await this.signingState('while reconciling termination');
    if (!signing) return false;
    return refusedAsNotFound ? !signing.found : signing.found && signing.authState !== 'AUTHORIZED';
  }
}
