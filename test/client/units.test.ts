import { ConfigError } from '../../src/config/load';
import { shanghaiMidnight } from '../../src/domain/calendar';
import { parsePlan, PlanValidationError } from '../../src/domain/plan';
import type { LifecycleStatus } from '../../src/domain/status';
import { demoPlan } from '../../src/client/demoPlan';
import { LifecycleConflictError, LifecycleNotFoundError } from '../../src/client/errors';
import { describeFailure, formatList, formatStatus, renderTable } from '../../src/client/format';
import { fenToYuan } from '../../src/domain/money';
import { jsonDifferences } from '../../src/client/planDiff';
import { buildListQuery, LIFECYCLE_PHASES, quoteVisibilityString } from '../../src/client/visibilityQuery';

describe('visibility query', () => {
  it('quotes values so that they can never close the literal', () => {
    expect(quoteVisibilityString('ABC123')).toBe('"ABC123"');
    expect(quoteVisibilityString('a"b')).toBe('"a\\"b"');
    expect(quoteVisibilityString('x" OR WorkflowId != "')).toBe('"x\\" OR WorkflowId != \\""');
    // A trailing backslash must not escape the closing quote.
    expect(quoteVisibilityString('end\\')).toBe('"end\\\\"');
    expect(quoteVisibilityString("it's")).toBe('"it\'s"');
    expect(() => quoteVisibilityString('line\nbreak')).toThrow(/control characters/);
  });

  it('filters by workflow type, phase, contract and next repayment date', () => {
    expect(buildListQuery()).toBe('WorkflowType = "repaymentLifecycle"');
    const instant = new Date(shanghaiMidnight('2026-03-01')).toISOString();
    expect(instant).toBe('2026-02-28T16:00:00.000Z');
    expect(
      buildListQuery({
        phase: 'MONITORING',
        outContractCode: 'C1"2',
        nextRepaymentBefore: '2026-03-01',
        query: 'StartTime > "2026-01-01T00:00:00Z"',
      }),
    ).toBe(
      'WorkflowType = "repaymentLifecycle" AND RepaymentPhase = "MONITORING" AND OutContractCode = "C1\\"2" AND ' +
        `NextRepaymentDate < "${instant}" AND (StartTime > "2026-01-01T00:00:00Z")`,
    );
  });

  it('refuses bad filters with every field named', () => {
    const error = catchError(() =>
      buildListQuery({
        phase: 'monitoring',
        outContractCode: 'a\u0000',
        nextRepaymentBefore: '2026-02-30',
        query: ' ',
      }),
    );
    expect(error).toBeInstanceOf(PlanValidationError);
    expect((error as PlanValidationError).issues.map((i) => i.path)).toEqual([
      'phase',
      'outContractCode',
      'nextRepaymentBefore',
      'query',
    ]);
    expect((error as Error).message).toContain(`phase: must be one of ${LIFECYCLE_PHASES.join(', ')}`);
  });
});

describe('plan differences', () => {
  it('names the paths where two plans differ', () => {
    const a = { outContractCode: 'C1', installments: [{ repaymentAmount: '1' }, { repaymentAmount: '2' }] };
    expect(jsonDifferences(a, structuredClone(a))).toEqual([]);
    expect(
      jsonDifferences(a, { outContractCode: 'C2', installments: [{ repaymentAmount: '1' }, { repaymentAmount: '3' }] }),
    ).toEqual(['installments[1].repaymentAmount', 'outContractCode']);
    expect(jsonDifferences(a, { ...a, installments: [a.installments[0]] })).toEqual(['installments (2 vs 1 items)']);
    expect(jsonDifferences({ a: 1 }, { a: 1, policy: { x: 1 } })).toEqual(['policy']);
    expect(jsonDifferences({ a: [1, 2, 3, 4] }, { a: [5, 6, 7, 8] }, 2)).toEqual(['a[0]', 'a[1]']);
  });
});

describe('demo plan', () => {
  it('holds 12 monthly installments from next month that pass the workflow schema', () => {
    // 2026-12-31 20:00 UTC is already 2027-01-01 04:00 in Shanghai: next month is February 2027.
    const now = Date.parse('2026-12-31T20:00:00Z');
    const plan = demoPlan({ now });
    expect(plan.outContractCode).toBe('DEMO20270101040000');
    const dates = parsePlan(plan, '2027-01-01').installments.map((i) => i.repaymentDate);
    expect(dates).toHaveLength(12);
    expect(dates[0]).toBe('2027-02-10');
    expect(dates[10]).toBe('2027-12-10');
    expect(dates[11]).toBe('2028-01-10');
    expect(demoPlan({ now, installments: 2, outContractCode: 'X1', signature: 'none' })).toMatchObject({
      outContractCode: 'X1',
      signature: { mode: 'none' },
      installments: [{ repaymentDate: '2027-02-10' }, { repaymentDate: '2027-03-10' }],
    });
  });
});

describe('formatting', () => {
  it('turns fen into yuan without floating point', () => {
    expect(fenToYuan('1')).toBe('0.01');
    expect(fenToYuan('10')).toBe('0.10');
    expect(fenToYuan('100')).toBe('1.00');
    expect(fenToYuan('123456')).toBe('1234.56');
    expect(fenToYuan('9007199254740993')).toBe('90071992547409.93');
  });

  it('renders aligned tables with "-" for empty cells', () => {
    expect(
      renderTable(
        ['A', 'LONGER'],
        [
          ['xyz', undefined],
          ['1', '2'],
        ],
      ),
    ).toBe(['A    LONGER', '---  ------', 'xyz  -', '1    2'].join('\n'));
  });

  it('shows a status with its installments and bills', () => {
    const status: LifecycleStatus = {
      phase: 'MONITORING',
      outContractCode: 'C1',
      contractId: 'WXC1',
      signed: true,
      installments: [
        {
          outRecordId: 'R1',
          repaymentAmount: '100000',
          minRepaymentAmount: '5000',
          repaymentDate: '2026-02-10',
          state: 'SETTLED',
          pollCount: 2,
          result: { outcome: 'SUCCESS', amount: '100000', reportedAt: '2026-02-10T01:00:00Z' },
        },
        {
          outRecordId: 'R2',
          repaymentAmount: '100000',
          minRepaymentAmount: '5000',
          repaymentDate: '2026-03-10',
          state: 'SCHEDULED',
          pollCount: 1,
          lastPollResult: 'MATCHES',
        },
      ],
      compensationBills: [{ outBillNo: 'B1', state: 'TRACKING', reportedAt: '2026-02-11T00:00:00Z' }],
      continuedAsNewCount: 0,
      alerts: [],
      retrying: [],
      rejectedResults: 0,
    };
    const text = formatStatus(status);
    expect(text).toContain('Contract: C1 (WeChat Pay contract WXC1)\nPhase:    MONITORING\nSigned:   yes\n');
    expect(text).not.toContain('Failure');
    expect(text).toMatch(/1 +R1 +2026-02-10 +1000\.00 +50\.00 +SETTLED +SUCCESS 1000\.00/);
    expect(text).toMatch(/2 +R2 +2026-03-10 +1000\.00 +50\.00 +SCHEDULED +last poll MATCHES/);
    expect(text).toMatch(/B1 +TRACKING +- +2026-02-11T00:00:00Z +-/);
  });

  it('lists lifecycles, or says there are none', () => {
    expect(formatList([])).toBe('No lifecycles found.');
    const text = formatList([
      {
        workflowId: 'repayment-C1',
        runId: 'r',
        status: 'RUNNING',
        phase: 'MONITORING',
        outContractCode: 'C1',
        nextRepaymentDate: '2026-03-10',
        startTime: '2026-01-01T00:00:00.000Z',
      },
    ]);
    expect(text.split('\n')[2]).toMatch(
      /^C1 +MONITORING +- +2026-03-10 +RUNNING +repayment-C1 +2026-01-01T00:00:00.000Z$/,
    );
  });
});

describe('CLI failures', () => {
  it('exits 2 for invalid input and configuration, naming the field', () => {
    const invalid = describeFailure(
      new PlanValidationError([{ path: 'installments[0].repaymentDate', rule: 'must be after today' }]),
    );
    expect(invalid.exitCode).toBe(2);
    expect(invalid.text).toBe('invalid input: installments[0].repaymentDate: must be after today');
    expect(invalid.json).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'installments[0].repaymentDate' }] });
    const config = describeFailure(new ConfigError('temporal.address', 'must not be empty', 'x.yaml'));
    expect(config).toMatchObject({
      exitCode: 2,
      json: { code: 'INVALID_CONFIG', issues: [{ path: 'temporal.address' }] },
    });
  });

  it('exits 1 for everything else, with the typed code and the cause', () => {
    expect(describeFailure(new LifecycleNotFoundError('C1', 'repayment-C1'))).toMatchObject({
      exitCode: 1,
      json: { code: 'LIFECYCLE_NOT_FOUND', message: 'no lifecycle for contract C1 (workflow id repayment-C1)' },
    });
    expect(describeFailure(new LifecycleConflictError('C1', 'repayment-C1', ['contractId'])).json.message).toBe(
      'a lifecycle for contract C1 already exists (workflow id repayment-C1) with a different plan; differs at contractId',
    );
    const wrapped = new Error('Failed to query Workflow', {
      cause: new Error('Failed to connect before the deadline'),
    });
    expect(describeFailure(wrapped)).toEqual({
      exitCode: 1,
      text: 'Failed to query Workflow: Failed to connect before the deadline',
      json: { code: 'FAILED', message: 'Failed to query Workflow: Failed to connect before the deadline' },
    });
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
