import { startSandbox, type Sandbox } from '../../src/sandbox';
import { authorizedContract, signedRequest, tempDataDir } from './signedRequest';

/** The five endpoints over the sandbox's state, with a fixed business clock (2026-03-10 10:00 Asia/Shanghai). */

let sandbox: Sandbox;
const BUSINESS_NOW = Date.parse('2026-03-10T10:00:00+08:00');
const CREATE = '/v3/credit-repayment/partner/schedule-records/batch-create';
const TERMINATE = '/v3/credit-repayment/partner/contracts/terminate';
const APPID = 'wxd678efh567hg6787';

beforeAll(async () => {
  sandbox = await startSandbox({
    dataDir: tempDataDir(),
    businessClock: async () => BUSINESS_NOW,
    compensationRateLimitPerSecond: 20,
  });
});
afterAll(() => sandbox.close());

function item(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    out_record_id: 'R1',
    sub_mchid: '1900000109',
    sub_appid: 'wxcbda96de0b165489',
    repayment_amount: '10000',
    min_repayment_amount: '2000',
    repayment_date: '2026-03-18',
    description: '信贷还款',
    attach: '备注信息',
    ...overrides,
  };
}

describe('seed 002: contract signing query', () => {
  const query = (code: string, appid = APPID) =>
    signedRequest(sandbox, { path: `/v3/ecommerce/individual-contracts/out-contract-code/${code}?appid=${appid}` });

  it('follows UNSIGNED → AUTHORIZED → TERMINATED', async () => {
    await sandbox.control.createContract({
      outContractCode: 'Q-002_a',
      contractId: 'WXCQ002',
      appid: APPID,
      openid: 'oQ002',
    });
    const unsigned = await query('Q-002_a');
    expect(unsigned.status).toBe(200);
    expect(unsigned.json).toEqual({ auth_state: 'UNAUTHORIZED' });

    await sandbox.control.authorizeContract('Q-002_a');
    const authorized = await query('Q-002_a');
    expect(authorized.json).toMatchObject({
      auth_state: 'AUTHORIZED',
      signed_time: '2026-03-10T10:00:00+08:00',
      individual_openid: 'oQ002',
    });

    await sandbox.control.terminateAsUser('Q-002_a');
    expect((await query('Q-002_a')).json.auth_state).toBe('UNAUTHORIZED');
    await expect(sandbox.control.authorizeContract('Q-002_a')).rejects.toMatchObject({ httpStatus: 409 });
  });

  it('answers 404 RESOURCE_NOT_EXISTS for an unknown code and 400 PARAM_ERROR for another appid or a bad code', async () => {
    const unknown = await query('NOSUCH');
    expect([unknown.status, unknown.json.code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
    await authorizedContract(sandbox, 'Q002b');
    const mismatch = await query('Q002b', 'wxOTHER');
    expect([mismatch.status, mismatch.json.code, mismatch.json.detail.field]).toEqual([400, 'PARAM_ERROR', 'appid']);
    const badCode = await query('bad%21code');
    expect([badCode.status, badCode.json.detail]).toEqual([
      400,
      { field: 'out_contract_code', issue: 'INVALID_CHARSET' },
    ]);
    const noAppid = await signedRequest(sandbox, {
      path: '/v3/ecommerce/individual-contracts/out-contract-code/Q002b',
    });
    expect([noAppid.status, noAppid.json.detail]).toEqual([400, { field: 'appid', issue: 'REQUIRED' }]);
  });
});

describe('seed 001 and seed 000: schedule and query records', () => {
  it('creates a record, echoes it, and the query returns the seed fields for the right contract only', async () => {
    const c = await authorizedContract(sandbox, 'S001');
    const created = await signedRequest(sandbox, {
      path: CREATE,
      body: { ...c, schedule_items: [item({ out_record_id: 'S001R1' })] },
    });
    expect(created.status).toBe(200);
    expect(created.json).toEqual({
      schedule_records: [
        {
          out_record_id: 'S001R1',
          appid: APPID,
          sub_appid: 'wxcbda96de0b165489',
          contract_id: c.contract_id,
          repayment_amount: '10000',
          min_repayment_amount: '2000',
          repayment_date: '2026-03-18',
          description: '信贷还款',
          attach: '备注信息',
          openid: c.openid,
        },
      ],
    });
    const queried = await signedRequest(sandbox, {
      path: `/v3/credit-repayment/partner/schedule-records/S001R1?contract_id=${c.contract_id}`,
    });
    expect(queried.status).toBe(200);
    expect(queried.json).toEqual({
      out_record_id: 'S001R1',
      appid: APPID,
      sub_appid: 'wxcbda96de0b165489',
      contract_id: c.contract_id,
      repayment_amount: '10000',
      min_repayment_amount: '2000',
      repayment_date: '2026-03-18',
      openid: c.openid,
    });
    const otherContract = await signedRequest(sandbox, {
      path: '/v3/credit-repayment/partner/schedule-records/S001R1?contract_id=WXCOTHER',
    });
    expect([otherContract.status, otherContract.json.code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
    const unknown = await signedRequest(sandbox, {
      path: `/v3/credit-repayment/partner/schedule-records/NOSUCH?contract_id=${c.contract_id}`,
    });
    expect(unknown.status).toBe(404);
  });

  it('refuses a duplicate out_record_id with WeChat-like INVALID_REQUEST and detail DUPLICATE, leaving the first intact', async () => {
    const c = await authorizedContract(sandbox, 'S002');
    const body = { ...c, schedule_items: [item({ out_record_id: 'S002R1' })] };
    expect((await signedRequest(sandbox, { path: CREATE, body })).status).toBe(200);
    const again = await signedRequest(sandbox, {
      path: CREATE,
      body: {
        ...body,
        schedule_items: [item({ out_record_id: 'S002R1', repayment_amount: '999', min_repayment_amount: '1' })],
      },
    });
    expect(again.status).toBe(400);
    expect(again.json).toEqual({
      code: 'INVALID_REQUEST',
      message: 'out_record_id 重复 (duplicate out_record_id)',
      detail: { field: 'out_record_id', issue: 'DUPLICATE' },
    });
    expect((await sandbox.control.listRecords(c.contract_id))[0]?.repayment_amount).toBe('10000');
  });

  const invalid: Array<[string, Record<string, unknown>, string, string]> = [
    ['out_record_id with a dash', item({ out_record_id: 'R-1' }), 'schedule_items[0].out_record_id', 'INVALID_CHARSET'],
    [
      'out_record_id of 33 characters',
      item({ out_record_id: 'A'.repeat(33) }),
      'schedule_items[0].out_record_id',
      'TOO_LONG',
    ],
    ['a missing out_record_id', item({ out_record_id: undefined }), 'schedule_items[0].out_record_id', 'REQUIRED'],
    [
      'an amount with a fraction',
      item({ repayment_amount: '100.5' }),
      'schedule_items[0].repayment_amount',
      'INVALID_AMOUNT',
    ],
    [
      'an amount as a number',
      item({ repayment_amount: 10000 }),
      'schedule_items[0].repayment_amount',
      'INVALID_AMOUNT',
    ],
    ['a zero amount', item({ repayment_amount: '0' }), 'schedule_items[0].repayment_amount', 'INVALID_AMOUNT'],
    [
      'a negative minimum',
      item({ min_repayment_amount: '-1' }),
      'schedule_items[0].min_repayment_amount',
      'INVALID_AMOUNT',
    ],
    [
      'minimum above the amount',
      item({ min_repayment_amount: '10001' }),
      'schedule_items[0].min_repayment_amount',
      'EXCEEDS_REPAYMENT_AMOUNT',
    ],
    [
      'a date that does not exist',
      item({ repayment_date: '2026-02-30' }),
      'schedule_items[0].repayment_date',
      'INVALID_DATE',
    ],
    [
      'a date in another format',
      item({ repayment_date: '2026/03/18' }),
      'schedule_items[0].repayment_date',
      'INVALID_DATE',
    ],
    [
      'today (the window starts tomorrow)',
      item({ repayment_date: '2026-03-10' }),
      'schedule_items[0].repayment_date',
      'OUT_OF_WINDOW',
    ],
    ['15 days ahead', item({ repayment_date: '2026-03-25' }), 'schedule_items[0].repayment_date', 'OUT_OF_WINDOW'],
    ['a sub_appid of 33 characters', item({ sub_appid: 'w'.repeat(33) }), 'schedule_items[0].sub_appid', 'TOO_LONG'],
    ['an emoji in description', item({ description: 'pay 😀' }), 'schedule_items[0].description', 'INVALID_CHARACTER'],
  ];

  it.each(invalid)('refuses %s with 400 PARAM_ERROR naming the field', async (_what, badItem, field, issue) => {
    const c = await authorizedContract(sandbox, `V${Math.random().toString(36).slice(2, 10)}`);
    const answer = await signedRequest(sandbox, { path: CREATE, body: { ...c, schedule_items: [badItem] } });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe('PARAM_ERROR');
    expect(answer.json.detail).toEqual({ field, issue });
    expect(answer.json.message).toContain(field);
  });

  it('accepts the first and the last day of the window', async () => {
    const c = await authorizedContract(sandbox, 'W001');
    for (const [id, date] of [
      ['W001A', '2026-03-11'],
      ['W001B', '2026-03-24'],
    ]) {
      const answer = await signedRequest(sandbox, {
        path: CREATE,
        body: { ...c, schedule_items: [item({ out_record_id: id, repayment_date: date })] },
      });
      expect(answer.status).toBe(200);
    }
  });

  it('checks the top-level fields and the one-item rule', async () => {
    const c = await authorizedContract(sandbox, 'T001');
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ ...c, contract_id: 'C'.repeat(65), schedule_items: [item()] }, 'contract_id', 'TOO_LONG'],
      [{ ...c, appid: undefined, schedule_items: [item()] }, 'appid', 'REQUIRED'],
      [{ ...c, openid: 'o'.repeat(129), schedule_items: [item()] }, 'openid', 'TOO_LONG'],
      [{ ...c, schedule_items: [] }, 'schedule_items', 'REQUIRED'],
      [
        { ...c, schedule_items: [item({ out_record_id: 'T1' }), item({ out_record_id: 'T2' })] },
        'schedule_items',
        'TOO_MANY_ITEMS',
      ],
    ];
    for (const [body, field, issue] of cases) {
      const answer = await signedRequest(sandbox, { path: CREATE, body });
      expect([answer.status, answer.json.detail]).toEqual([400, { field, issue }]);
    }
    const notJson = await signedRequest(sandbox, { path: CREATE, body: '{not json' });
    expect([notJson.status, notJson.json.detail]).toEqual([400, { field: 'body', issue: 'INVALID_JSON' }]);
  });

  it('requires an authorized contract with the same appid and openid', async () => {
    await sandbox.control.createContract({
      outContractCode: 'U001',
      contractId: 'WXCU001',
      appid: APPID,
      openid: 'oU001',
    });
    const unsigned = await signedRequest(sandbox, {
      path: CREATE,
      body: { contract_id: 'WXCU001', appid: APPID, openid: 'oU001', schedule_items: [item({ out_record_id: 'U1' })] },
    });
    expect([unsigned.status, unsigned.json.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(unsigned.json.message).toMatch(/not authorized/);

    const c = await authorizedContract(sandbox, 'U002');
    const otherOpenid = await signedRequest(sandbox, {
      path: CREATE,
      body: { ...c, openid: 'oSomeoneElse', schedule_items: [item({ out_record_id: 'U2' })] },
    });
    expect([otherOpenid.status, otherOpenid.json.code, otherOpenid.json.detail.field]).toEqual([
      400,
      'INVALID_REQUEST',
      'openid',
    ]);
    const otherAppid = await signedRequest(sandbox, {
      path: CREATE,
      body: { ...c, appid: 'wxother', schedule_items: [item({ out_record_id: 'U3' })] },
    });
    expect(otherAppid.json.detail.field).toBe('appid');
    const unknown = await signedRequest(sandbox, {
      path: CREATE,
      body: { ...c, contract_id: 'WXCNOSUCH', schedule_items: [item({ out_record_id: 'U4' })] },
    });
    expect([unknown.status, unknown.json.code]).toEqual([400, 'INVALID_REQUEST']);
    await sandbox.control.terminateAsUser('U002');
    const terminated = await signedRequest(sandbox, {
      path: CREATE,
      body: { ...c, schedule_items: [item({ out_record_id: 'U5' })] },
    });
    expect([terminated.status, terminated.json.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(await sandbox.control.listRecords(c.contract_id)).toEqual([]);
  });

  it('lets the control API change and delete records, which the query then reflects', async () => {
    const c = await authorizedContract(sandbox, 'M001');
    await signedRequest(sandbox, { path: CREATE, body: { ...c, schedule_items: [item({ out_record_id: 'M001R1' })] } });
    const path = `/v3/credit-repayment/partner/schedule-records/M001R1?contract_id=${c.contract_id}`;
    await sandbox.control.changeRecord('M001R1', { repayment_amount: '99999', repayment_date: '2026-04-01' });
    expect((await signedRequest(sandbox, { path })).json).toMatchObject({
      repayment_amount: '99999',
      repayment_date: '2026-04-01',
    });
    await expect(sandbox.control.changeRecord('M001R1', { min_repayment_amount: '100000' })).rejects.toMatchObject({
      code: 'PARAM_ERROR',
    });
    await expect(sandbox.control.changeRecord('M001R1', { repayment_date: '2026-13-01' })).rejects.toMatchObject({
      code: 'PARAM_ERROR',
    });
    await sandbox.control.deleteRecord('M001R1');
    expect((await signedRequest(sandbox, { path })).status).toBe(404);
    await expect(sandbox.control.deleteRecord('M001R1')).rejects.toMatchObject({ httpStatus: 404 });
  });
});

describe('seed 004: terminate', () => {
  const terminate = (body: unknown) => signedRequest(sandbox, { path: TERMINATE, body });

  it('terminates an authorized contract BY_MERCHANT with contract_info per seed 004, then refuses a second time', async () => {
    await sandbox.control.createContract({
      outContractCode: 'X001',
      contractId: 'WXCX001',
      appid: APPID,
      openid: 'oX',
      authorized: true,
      repaymentDay: 5,
    });
    const answer = await terminate({ out_contract_code: 'X001', contract_termination_remark: '逾期未还款' });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      contract_info: {
        contract_id: 'WXCX001',
        plan_id: expect.any(String),
        out_contract_code: 'X001',
        display_name: expect.any(String),
        contract_state: 'CONTRACT_STATE_TERMINATED',
        contract_signed_time: '2026-03-10T10:00:00+08:00',
        contract_terminated_time: '2026-03-10T10:00:00+08:00',
        contract_termination_mode: 'TERMINATION_MODE_BY_MERCHANT',
        contract_termination_remark: '逾期未还款',
        repayment_day: 5,
      },
    });
    const again = await terminate({ out_contract_code: 'X001', contract_termination_remark: 'again' });
    expect([again.status, again.json.code, again.json.message]).toEqual([
      400,
      'INVALID_REQUEST',
      '协议已解约 (contract already terminated)',
    ]);
    expect((await sandbox.control.getContract('X001')).termination_remark).toBe('逾期未还款');
  });

  it('terminates an unsigned contract too; a user-terminated one is "already terminated"', async () => {
    await sandbox.control.createContract({
      outContractCode: 'X002',
      contractId: 'WXCX002',
      appid: APPID,
      openid: 'oX',
    });
    const unsigned = await terminate({ out_contract_code: 'X002', contract_termination_remark: 'r' });
    expect(unsigned.status).toBe(200);
    expect(unsigned.json.contract_info.contract_signed_time).toBeUndefined();
    await authorizedContract(sandbox, 'X003');
    const byUser = await sandbox.control.terminateAsUser('X003');
    expect(byUser.termination_mode).toBe('BY_USER');
    expect((await terminate({ out_contract_code: 'X003', contract_termination_remark: 'r' })).json.message).toBe(
      '协议已解约 (contract already terminated)',
    );
    await expect(sandbox.control.terminateAsUser('X003')).rejects.toMatchObject({ httpStatus: 409 });
  });

  it('validates the body and answers 404 for an unknown contract', async () => {
    const cases: Array<[unknown, string, string]> = [
      [{ out_contract_code: 'X-004', contract_termination_remark: 'r' }, 'out_contract_code', 'INVALID_CHARSET'],
      [{ contract_termination_remark: 'r' }, 'out_contract_code', 'REQUIRED'],
      [{ out_contract_code: 'X004' }, 'contract_termination_remark', 'REQUIRED'],
      [{ out_contract_code: 'X004', contract_termination_remark: '' }, 'contract_termination_remark', 'REQUIRED'],
      [
        { out_contract_code: 'X004', contract_termination_remark: '长'.repeat(129) },
        'contract_termination_remark',
        'TOO_LONG',
      ],
    ];
    for (const [body, field, issue] of cases) {
      const answer = await terminate(body);
      expect([answer.status, answer.json.code, answer.json.detail]).toEqual([400, 'PARAM_ERROR', { field, issue }]);
    }
    expect(
      (await terminate({ out_contract_code: 'X004', contract_termination_remark: '长'.repeat(128) })).json.code,
    ).toBe('RESOURCE_NOT_EXISTS');
  });
});

describe('seed 003: compensation bills', () => {
  const query = (no: string) =>
    signedRequest(sandbox, { path: `/v3/platsolution/ecommerce/mch-transfer/compensate-bills/out-bill-no/${no}` });

  it('answers with the seed fields and follows the state machine', async () => {
    await sandbox.control.createBill({
      outBillNo: 'B001',
      amount: 10000,
      transactionId: '1217752501201407033233368018',
      transferRemark: '赔付',
    });
    const accepted = await query('B001');
    expect(accepted.status).toBe(200);
    expect(accepted.json).toEqual({
      sp_mchid: sandbox.mchid,
      receiver_detail: {
        receiver: {
          type: 'TRANSACTION_USER',
          transaction_info: { transaction_id: '1217752501201407033233368018', type: 'WXPAY' },
        },
      },
      out_bill_no: 'B001',
      amount: 10000,
      transfer_remark: '赔付',
      bill_id: expect.stringMatching(/^\d{40}$/),
      state: 'ACCEPTED',
      accept_time: '2026-03-10T10:00:00+08:00',
    });
    await sandbox.control.setBillState('B001', 'WAIT_USER_CONFIRM');
    await sandbox.control.setBillState('B001', 'SUCCESS');
    expect((await query('B001')).json).toMatchObject({ state: 'SUCCESS', success_time: '2026-03-10T10:00:00+08:00' });
    await expect(sandbox.control.setBillState('B001', 'CLOSED')).rejects.toMatchObject({
      httpStatus: 409,
      code: 'INVALID_TRANSITION',
    });

    await sandbox.control.createBill({ outBillNo: 'B002', amount: 1 });
    await sandbox.control.setBillState('B002', 'CLOSED', 'NOT_ENOUGH');
    expect((await query('B002')).json).toMatchObject({
      state: 'CLOSED',
      close_info: { close_time: '2026-03-10T10:00:00+08:00', close_reason: 'NOT_ENOUGH' },
    });

    await sandbox.control.createBill({ outBillNo: 'B003', amount: 1, state: 'WAIT_USER_CONFIRM' });
    await expect(sandbox.control.setBillState('B003', 'CANCELLED')).rejects.toMatchObject({ httpStatus: 409 });
    await sandbox.control.setBillState('B003', 'CANCELING');
    await sandbox.control.setBillState('B003', 'CANCELLED');
    expect((await query('B003')).json.state).toBe('CANCELLED');
    await expect(sandbox.control.setBillState('B003', 'NOPE' as never)).rejects.toMatchObject({ code: 'PARAM_ERROR' });
    await expect(
      sandbox.control.createBill({ outBillNo: 'B004', amount: 1, state: 'CANCELLED' }),
    ).rejects.toMatchObject({ httpStatus: 409 });
    await expect(sandbox.control.createBill({ outBillNo: 'B005', amount: 1.5 })).rejects.toMatchObject({
      code: 'PARAM_ERROR',
    });
  });

  it('answers 404 for an unknown bill and 400 for a bad out_bill_no', async () => {
    expect((await query('NOSUCHBILL')).json.code).toBe('RESOURCE_NOT_EXISTS');
    expect((await query('bad_no')).json.detail).toEqual({ field: 'out_bill_no', issue: 'INVALID_CHARSET' });
  });

  it('answers 429 FREQUENCY_LIMITED above the per-second limit (20 in this sandbox), and serves again a second later', async () => {
    await sandbox.control.createBill({ outBillNo: 'RATE1', amount: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a fresh window
    const answers = await Promise.all(Array.from({ length: 30 }, () => query('RATE1')));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(20);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(10);
    expect(limited[0]?.json.code).toBe('FREQUENCY_LIMITED');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await query('RATE1')).status).toBe(200);
  });
});
