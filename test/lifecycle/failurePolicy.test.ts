import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { FaultBook } from '../../src/domain/alerts';
import { classifyFailure, DEFAULT_EVIDENCE_CODES, type ClassifiedFailure } from '../../src/domain/failurePolicy';
import type { WechatPayFailureDetails } from '../../src/domain/failureTypes';
import { checkResolution } from '../../src/domain/operatorActions';
import { checkRepaymentResult } from '../../src/domain/repaymentResults';
import type { InstallmentRecord, StepFault } from '../../src/domain/status';

/** The failure policy's table, row by row, and the pure bookkeeping around it (alerts, decisions, results). */

function activityFailure(cause: Error): ActivityFailure {
  return new ActivityFailure(
    'activity failed',
    'createScheduleRecord',
    '1',
    RetryState.MAXIMUM_ATTEMPTS_REACHED,
    'worker',
    cause,
  );
}

const wechatpay = (code: string, details: WechatPayFailureDetails) =>
  activityFailure(ApplicationFailure.create({ type: code, message: 'm', details: [details] }));

const classify = (error: unknown): ClassifiedFailure | undefined => classifyFailure(error, DEFAULT_EVIDENCE_CODES);

describe('failure policy', () => {
  it.each([
    [
      'verified 400 PARAM_ERROR',
      'evidence',
      'REFUSED',
      'PARAM_ERROR',
      { source: 'answer', httpStatus: 400, verified: true },
    ],
    [
      'verified 400 INVALID_REQUEST',
      'evidence',
      'REFUSED',
      'INVALID_REQUEST',
      { source: 'answer', httpStatus: 400, verified: true },
    ],
    [
      'verified 404 RESOURCE_NOT_EXISTS',
      'evidence',
      'NOT_FOUND',
      'RESOURCE_NOT_EXISTS',
      { source: 'answer', httpStatus: 404, verified: true },
    ],
    [
      'verified 403 NO_AUTH',
      'infrastructure',
      'REFUSED',
      'NO_AUTH',
      { source: 'answer', httpStatus: 403, verified: true },
    ],
    [
      'verified 404 with another code',
      'infrastructure',
      'REFUSED',
      'NOT_HERE',
      { source: 'answer', httpStatus: 404, verified: true },
    ],
    [
      'unsigned 404 RESOURCE_NOT_EXISTS',
      'infrastructure',
      'UNVERIFIED',
      'RESOURCE_NOT_EXISTS',
      { source: 'answer', httpStatus: 404, verified: false },
    ],
    [
      'unsigned 400 PARAM_ERROR',
      'infrastructure',
      'UNVERIFIED',
      'PARAM_ERROR',
      { source: 'answer', httpStatus: 400, verified: false },
    ],
    [
      'unsigned 401 SIGN_ERROR',
      'infrastructure',
      'AUTH',
      'SIGN_ERROR',
      { source: 'answer', httpStatus: 401, verified: false },
    ],
    [
      'verified 429',
      'infrastructure',
      'RATE_LIMITED',
      'FREQUENCY_LIMITED',
      { source: 'answer', httpStatus: 429, verified: true },
    ],
    [
      'verified 500',
      'infrastructure',
      'SERVER_ERROR',
      'SYSTEM_ERROR',
      { source: 'answer', httpStatus: 500, verified: true },
    ],
    [
      'a signature that does not verify',
      'infrastructure',
      'UNVERIFIED',
      'RESPONSE_VERIFICATION_FAILED',
      { source: 'verification', httpStatus: 404 },
    ],
    [
      'a reset',
      'infrastructure',
      'TRANSPORT',
      'ECONNRESET',
      { source: 'transport', httpStatus: 0, outcomeUnknown: true },
    ],
    ['our own validation', 'infrastructure', 'REJECTED_AT_EDGE', 'PARAM_ERROR', { source: 'edge', httpStatus: 0 }],
    [
      'a verified answer of the wrong shape',
      'infrastructure',
      'UNEXPECTED_ANSWER',
      'UNEXPECTED_ANSWER',
      { source: 'answer', httpStatus: 200, verified: true },
    ],
  ] as const)('%s → %s %s', (_, cls, errorClass, code, details) => {
    expect(classify(wechatpay(code, details as WechatPayFailureDetails))).toMatchObject({ class: cls, errorClass });
  });

  it('evidence codes are configuration: a code not listed is infrastructure, a listed one evidence', () => {
    const noAuth = wechatpay('NO_AUTH', { source: 'answer', httpStatus: 403, verified: true });
    expect(classifyFailure(noAuth, ['NO_AUTH'])).toMatchObject({ class: 'evidence' });
    const param = wechatpay('PARAM_ERROR', { source: 'answer', httpStatus: 400, verified: true });
    expect(classifyFailure(param, [])).toMatchObject({ class: 'infrastructure', errorClass: 'REFUSED' });
  });

  it('an activity timeout and an error of our own are infrastructure; anything else is not a failed call', () => {
    const timeout = activityFailure(new TimeoutFailure('timed out', undefined, TimeoutType.START_TO_CLOSE));
    expect(classify(timeout)).toMatchObject({ class: 'infrastructure', errorClass: 'TIMEOUT', outcomeUnknown: true });
    const bug = activityFailure(ApplicationFailure.create({ type: 'TypeError', message: 'x is undefined' }));
    expect(classify(bug)).toMatchObject({ class: 'infrastructure', errorClass: 'BUG' });
    expect(classify(new TypeError('a bug in the workflow'))).toBeUndefined();
  });

  it('marks a POST whose outcome may be unknown', () => {
    const reset = wechatpay('ECONNRESET', { source: 'transport', httpStatus: 0, outcomeUnknown: true });
    expect(classify(reset)?.outcomeUnknown).toBe(true);
    const refused = wechatpay('INVALID_REQUEST', { source: 'answer', httpStatus: 400, verified: true });
    expect(classify(refused)?.outcomeUnknown).toBe(false);
  });
});

describe('alerts (FaultBook)', () => {
  const infra = classify(wechatpay('SYSTEM_ERROR', { source: 'answer', httpStatus: 500, verified: true }))!;
  const t0 = Date.parse('2026-12-01T00:00:00Z');
  const minutes = (n: number) => t0 + n * 60_000;

  it('retries with capped backoff, raises past the threshold, clears on success', () => {
    const faults: StepFault[] = [];
    const changes: string[] = [];
    const book = new FaultBook(faults, { alertThresholdMinutes: 30, infraRetryMaxMinutes: 8 }, (c) => {
      changes.push(...c.raised.map((f) => `raised ${f.key}`), ...c.cleared.map((f) => `cleared ${f.key}`));
    });
    const retries = [0, 2, 5, 11, 21, 31].map((at) => book.failed('poll', 'R1', infra, minutes(at)) - minutes(at));
    // 1, 2, 4, 8 minutes, then capped at 8.
    expect(retries.map((ms) => ms / 60_000)).toEqual([1, 2, 4, 8, 8, 8]);
    expect(changes).toEqual(['raised poll:R1']); // only once 30 minutes had passed (at minute 31)
    expect(book.label()).toBe('poll:SERVER_ERROR');
    expect(book.nextRaiseAt()).toBeUndefined();
    book.clear('poll:R1');
    expect(changes).toEqual(['raised poll:R1', 'cleared poll:R1']);
    expect(book.label()).toBeNull();
  });

  it('never retries past the ceiling (the end of a window)', () => {
    const book = new FaultBook([], { alertThresholdMinutes: 30, infraRetryMaxMinutes: 30 });
    expect(book.failed('create', 'R1', infra, minutes(0), minutes(0) + 10_000)).toBe(minutes(0) + 10_000);
  });

  it('a decision is an alert at once; the oldest alert names RepaymentAlert', () => {
    const book = new FaultBook([], { alertThresholdMinutes: 30, infraRetryMaxMinutes: 30 });
    book.decision('create', 'R2', 'MISSED_WINDOW', 'window closed', minutes(0));
    book.failed('poll', 'R3', infra, minutes(1));
    book.raiseDue(minutes(40));
    expect(book.alerts().map((f) => f.key)).toEqual(['create:R2', 'poll:R3']);
    expect(book.label()).toBe('create:MISSED_WINDOW');
    book.clearAllExcept(['terminate']);
    expect(book.alerts()).toEqual([]);
  });
});

describe('operator decisions and lender results', () => {
  const fault = (key: string, kind: StepFault['kind'], outRecordId?: string): StepFault => ({
    key,
    step: key.split(':')[0] as StepFault['step'],
    kind,
    lastError: 'e',
    since: 'x',
    failures: 1,
    raisedAt: 'x',
    ...(outRecordId ? { outRecordId } : {}),
  });

  it('names the alert, refuses what cannot help, requires a reason to terminate', () => {
    const faults = [fault('create:R1', 'MISSED_WINDOW', 'R1'), fault('signing', 'INFRASTRUCTURE')];
    const stopping = { stopping: false };
    expect(() => checkResolution(faults, { action: 'retry' }, stopping)).toThrow(
      /must name one of: create:R1, signing/,
    );
    expect(() => checkResolution(faults, { alert: 'poll:R9', action: 'retry' }, stopping)).toThrow(/poll:R9/);
    expect(() => checkResolution(faults, { alert: 'create:R1', action: 'retry' }, stopping)).toThrow(
      /window has closed/,
    );
    expect(() => checkResolution(faults, { alert: 'signing', action: 'skip' }, stopping)).toThrow(/installment/);
    expect(() => checkResolution(faults, { alert: 'signing', action: 'terminate' }, stopping)).toThrow(/reason/);
    expect(checkResolution(faults, { alert: 'create:R1', action: 'skip' }, stopping).fault.key).toBe('create:R1');
    expect(() => checkResolution(faults, { alert: 'signing', action: 'retry' }, { stopping: true })).toThrow(
      /stopping/,
    );
  });

  const record = (state: InstallmentRecord['state'], result?: InstallmentRecord['result']): InstallmentRecord => ({
    outRecordId: 'R1',
    repaymentAmount: '10000',
    minRepaymentAmount: '500',
    repaymentDate: '2026-12-10',
    state,
    pollCount: 0,
    ...(result ? { result } : {}),
  });

  it('refuses an unknown record, a contradiction of a settled one and a bad amount; accepts a repeat', () => {
    expect(() => checkRepaymentResult([record('DUE')], { outRecordId: 'R2', outcome: 'SUCCESS' })).toThrow(/R2/);
    expect(() =>
      checkRepaymentResult([record('DUE')], { outRecordId: 'R1', outcome: 'SUCCESS', amount: '10001' }),
    ).toThrow(/must not exceed/);
    expect(() =>
      checkRepaymentResult([record('DUE')], { outRecordId: 'R1', outcome: 'SUCCESS', amount: '499' }),
    ).toThrow(/at least/);
    const settled = record('SETTLED', { outcome: 'SUCCESS', amount: '10000', reportedAt: 'x' });
    expect(checkRepaymentResult([settled], { outRecordId: 'R1', outcome: 'SUCCESS' }).repeat).toBe(true);
    expect(() => checkRepaymentResult([settled], { outRecordId: 'R1', outcome: 'FAILED' })).toThrow(/already SETTLED/);
    expect(checkRepaymentResult([record('MISSED')], { outRecordId: 'R1', outcome: 'SUCCESS' }).repeat).toBe(false);
  });
});
