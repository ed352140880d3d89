import {
  createScheduleRecords,
  queryCompensationBill,
  queryContractSigning,
  queryScheduleRecord,
  terminateContract,
  type CreateScheduleRecordsRequest,
} from '../../src/wechatpay/api';
import { WechatPayUnexpectedAnswerError, WechatPayValidationError } from '../../src/wechatpay/errors';
import type { WechatPayHttpClient } from '../../src/wechatpay/http';
import { assertScheduleItem, isCalendarDate, isFenAmount } from '../../src/wechatpay/validation';
import {
  answer,
  makeClient,
  makeKeys,
  rejectionOf,
  requestSignatureValid,
  startServer,
  type TestServer,
} from './helpers';

const keys = makeKeys();
let server: TestServer;
let client: WechatPayHttpClient;
let nextAnswer = '{}';

beforeAll(async () => {
  server = await startServer((_req, res) => answer(res, keys, 200, nextAnswer));
  client = makeClient(keys, { primary: server.url });
});
afterAll(async () => {
  client.close();
  await server.close();
});
beforeEach(() => {
  server.received.length = 0;
});

const record = {
  out_record_id: 'R1',
  appid: 'wxd678efh567hg6787',
  contract_id: '20251105000000123456789',
  repayment_amount: '10000',
  min_repayment_amount: '2000',
  repayment_date: '2025-11-18',
  openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
};

function scheduleRequest(
  item: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): CreateScheduleRecordsRequest {
  return {
    contract_id: record.contract_id,
    appid: record.appid,
    openid: record.openid,
    schedule_items: [
      {
        out_record_id: 'R1',
        repayment_amount: '10000',
        min_repayment_amount: '2000',
        repayment_date: '2025-11-18',
        description: '信贷还款',
        ...item,
      },
    ],
    ...top,
  } as CreateScheduleRecordsRequest;
}

async function validationError(promise: Promise<unknown>): Promise<WechatPayValidationError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(WechatPayValidationError);
  expect(server.received).toHaveLength(0); // nothing was sent
  return error as WechatPayValidationError;
}

describe('validators', () => {
  it.each(['1', '10000', '99999999999999999999'])('isFenAmount accepts %s', (v) => expect(isFenAmount(v)).toBe(true));
  it.each(['0', '0100', '-1', '1.5', '1e3', ' 1', '', '１'])('isFenAmount rejects %j', (v) =>
    expect(isFenAmount(v)).toBe(false),
  );
  it('isFenAmount rejects numbers (money travels as strings)', () => expect(isFenAmount(100)).toBe(false));

  it.each(['2024-02-29', '2000-02-29', '2025-12-31', '2025-01-01'])('isCalendarDate accepts %s', (v) =>
    expect(isCalendarDate(v)).toBe(true),
  );
  it.each([
    '2025-02-29',
    '1900-02-29',
    '2025-04-31',
    '2025-13-01',
    '2025-00-10',
    '2025-1-01',
    '2025-01-00',
    '2025/01/01',
    '2025-01-01T00:00:00+08:00',
  ])('isCalendarDate rejects %s', (v) => expect(isCalendarDate(v)).toBe(false));

  it('assertScheduleItem names the field under the given path', () => {
    expect(() => assertScheduleItem(null, 'schedule_items[3]')).toThrow('schedule_items[3]: required, an object');
  });
});

describe('createScheduleRecords', () => {
  it('sends the request and returns the verified records', async () => {
    nextAnswer = JSON.stringify({ schedule_records: [record] });
    const result = await createScheduleRecords(client, scheduleRequest());
    expect(result.schedule_records[0]).toEqual(record);
    const req = server.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v3/credit-repayment/partner/schedule-records/batch-create');
    expect(JSON.parse(req.body)).toEqual(scheduleRequest());
    expect(requestSignatureValid(keys, req)).toBe(true);
  });

  it.each([
    [{ out_record_id: 'R-1' }, 'schedule_items[0].out_record_id', 'digits and letters only'],
    [{ out_record_id: 'R'.repeat(33) }, 'schedule_items[0].out_record_id', 'at most 32 characters'],
    [{ out_record_id: '' }, 'schedule_items[0].out_record_id', 'must not be empty'],
    [{ out_record_id: undefined }, 'schedule_items[0].out_record_id', 'required, a string'],
    [{ repayment_amount: '010' }, 'schedule_items[0].repayment_amount', 'positive integer amount in fen'],
    [{ repayment_amount: 100 }, 'schedule_items[0].repayment_amount', 'positive integer amount in fen'],
    [{ repayment_amount: '0' }, 'schedule_items[0].repayment_amount', 'positive integer amount in fen'],
    [{ min_repayment_amount: '1.5' }, 'schedule_items[0].min_repayment_amount', 'positive integer amount in fen'],
    [{ min_repayment_amount: '10001' }, 'schedule_items[0].min_repayment_amount', 'must not exceed repayment_amount'],
    // compared as integers, not as strings ("9" > "10000" as text)
    [{ min_repayment_amount: '9' }, null, null],
    [{ min_repayment_amount: '10000' }, null, null],
    [
      { repayment_amount: '90071992547409930', min_repayment_amount: '90071992547409931' },
      'schedule_items[0].min_repayment_amount',
      'must not exceed repayment_amount',
    ],
    [{ repayment_date: '2025-02-30' }, 'schedule_items[0].repayment_date', 'a calendar date YYYY-MM-DD'],
    [{ repayment_date: '20251118' }, 'schedule_items[0].repayment_date', 'a calendar date YYYY-MM-DD'],
    [{ sub_mchid: '1'.repeat(33) }, 'schedule_items[0].sub_mchid', 'at most 32 characters'],
    [{ sub_appid: 'w'.repeat(33) }, 'schedule_items[0].sub_appid', 'at most 32 characters'],
    [{ description: '还款😀' }, 'schedule_items[0].description', 'only 1-3-byte UTF-8'],
    [{ attach: 'lone \uD800 surrogate' }, 'schedule_items[0].attach', 'only 1-3-byte UTF-8'],
  ])('item %j: %s', async (item, field, rule) => {
    nextAnswer = JSON.stringify({ schedule_records: [record] });
    if (field === null) {
      await expect(createScheduleRecords(client, scheduleRequest(item))).resolves.toBeDefined();
      return;
    }
    const error = await validationError(createScheduleRecords(client, scheduleRequest(item)));
    expect(error.field).toBe(field);
    expect(error.rule).toContain(rule);
    expect(error).toMatchObject({ code: 'PARAM_ERROR', httpStatus: 0, retryable: false });
  });

  it.each([
    [{ contract_id: 'c'.repeat(65) }, 'contract_id', 'at most 64 characters'],
    [{ appid: 'a'.repeat(33) }, 'appid', 'at most 32 characters'],
    [{ openid: 'o'.repeat(129) }, 'openid', 'at most 128 characters'],
    [{ openid: undefined }, 'openid', 'required, a string'],
    [{ schedule_items: [] }, 'schedule_items', 'a non-empty list'],
    [{ schedule_items: undefined }, 'schedule_items', 'a non-empty list'],
  ])('request %j: %s', async (top, field, rule) => {
    const error = await validationError(createScheduleRecords(client, scheduleRequest({}, top)));
    expect(error.field).toBe(field);
    expect(error.rule).toContain(rule);
  });

  it('names the index of the failing item', async () => {
    const request = scheduleRequest();
    request.schedule_items.push({ ...request.schedule_items[0]!, out_record_id: 'R2', repayment_date: '2025-02-29' });
    expect((await validationError(createScheduleRecords(client, request))).field).toBe(
      'schedule_items[1].repayment_date',
    );
  });

  it('accepts exactly the maximum lengths, counted in characters', async () => {
    nextAnswer = JSON.stringify({ schedule_records: [record] });
    await expect(
      createScheduleRecords(client, scheduleRequest({ out_record_id: 'R'.repeat(32) }, { openid: '用'.repeat(128) })),
    ).resolves.toBeDefined();
  });

  it('rejects a verified answer without schedule_records, or with a record missing a field', async () => {
    nextAnswer = JSON.stringify({ records: [] });
    expect(await rejectionOf(createScheduleRecords(client, scheduleRequest()))).toBeInstanceOf(
      WechatPayUnexpectedAnswerError,
    );
    nextAnswer = JSON.stringify({ schedule_records: [{ ...record, repayment_amount: undefined }] });
    const error = await rejectionOf(createScheduleRecords(client, scheduleRequest()));
    expect(error).toBeInstanceOf(WechatPayUnexpectedAnswerError);
    expect((error as Error).message).toContain('schedule_records[0].repayment_amount');
  });
});

describe('queryScheduleRecord', () => {
  it('GETs the record with the contract id in the query', async () => {
    nextAnswer = JSON.stringify(record);
    await expect(queryScheduleRecord(client, { out_record_id: 'R1', contract_id: 'C 1/2' })).resolves.toEqual(record);
    const req = server.received[0]!;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/v3/credit-repayment/partner/schedule-records/R1?contract_id=C+1%2F2');
    expect(requestSignatureValid(keys, req)).toBe(true);
  });

  it('validates out_record_id and contract_id', async () => {
    expect(
      (await validationError(queryScheduleRecord(client, { out_record_id: 'R 1/x', contract_id: 'C1' }))).field,
    ).toBe('out_record_id');
    expect((await validationError(queryScheduleRecord(client, { out_record_id: 'R1', contract_id: '' }))).field).toBe(
      'contract_id',
    );
  });

  it('rejects a verified answer missing openid', async () => {
    nextAnswer = JSON.stringify({ ...record, openid: undefined });
    const error = await rejectionOf(queryScheduleRecord(client, { out_record_id: 'R1', contract_id: 'C1' }));
    expect(error).toBeInstanceOf(WechatPayUnexpectedAnswerError);
    expect(error).toMatchObject({ code: 'UNEXPECTED_ANSWER', httpStatus: 200, requestId: 'req-0001' });
  });
});

describe('queryContractSigning', () => {
  const signing = { signed_time: '2018-06-08T10:34:56+08:00', auth_state: 'AUTHORIZED', individual_openid: 'o1' };

  it('accepts -, _ in the code (seed 002) and encodes the path and appid', async () => {
    nextAnswer = JSON.stringify(signing);
    await expect(queryContractSigning(client, { out_contract_code: 'APPLY-01_x', appid: 'wx 1' })).resolves.toEqual(
      signing,
    );
    expect(server.received[0]!.url).toBe('/v3/ecommerce/individual-contracts/out-contract-code/APPLY-01_x?appid=wx+1');
    expect(requestSignatureValid(keys, server.received[0]!)).toBe(true);
  });

  it.each([
    [{ out_contract_code: 'A.1' }, 'out_contract_code', 'digits, letters, - and _ only'],
    [{ out_contract_code: 'A'.repeat(129) }, 'out_contract_code', 'at most 128 characters'],
    [{ appid: 'w'.repeat(33) }, 'appid', 'at most 32 characters'],
  ])('%j: %s', async (change, field, rule) => {
    const error = await validationError(
      queryContractSigning(client, { out_contract_code: 'A1', appid: 'wx1', ...change }),
    );
    expect(error.field).toBe(field);
    expect(error.rule).toBe(rule);
  });

  it('rejects a verified answer without auth_state', async () => {
    nextAnswer = JSON.stringify({ signed_time: signing.signed_time });
    expect(await rejectionOf(queryContractSigning(client, { out_contract_code: 'A1', appid: 'wx1' }))).toBeInstanceOf(
      WechatPayUnexpectedAnswerError,
    );
  });

  it('rejects an auth_state the seed does not name (never read as "not authorized")', async () => {
    nextAnswer = JSON.stringify({ ...signing, auth_state: 'SUSPENDED' });
    const error = await rejectionOf(queryContractSigning(client, { out_contract_code: 'A1', appid: 'wx1' }));
    expect(error).toBeInstanceOf(WechatPayUnexpectedAnswerError);
    expect((error as Error).message).toMatch(/auth_state is not one of AUTHORIZED, UNAUTHORIZED/);
  });
});

describe('queryCompensationBill', () => {
  const bill = {
    sp_mchid: '1900001108',
    receiver_detail: {
      receiver: { type: 'TRANSACTION_USER', transaction_info: { transaction_id: 't1', type: 'WXPAY' } },
    },
    out_bill_no: 'plfk2020042013',
    amount: 100,
    bill_id: 'b1',
    state: 'SUCCESS',
    accept_time: '2025-01-01T10:00:00+08:00',
  };

  it('GETs the bill by out_bill_no', async () => {
    nextAnswer = JSON.stringify(bill);
    await expect(queryCompensationBill(client, { out_bill_no: 'plfk2020042013' })).resolves.toEqual(bill);
    expect(server.received[0]!.url).toBe(
      '/v3/platsolution/ecommerce/mch-transfer/compensate-bills/out-bill-no/plfk2020042013',
    );
  });

  it('validates out_bill_no (digits and letters, at most 32)', async () => {
    expect((await validationError(queryCompensationBill(client, { out_bill_no: 'a_b' }))).rule).toBe(
      'digits and letters only',
    );
    expect((await validationError(queryCompensationBill(client, { out_bill_no: '1'.repeat(33) }))).rule).toBe(
      'at most 32 characters',
    );
  });

  it.each([{ amount: '100' }, { amount: 1.5 }, { state: undefined }])(
    'rejects a verified answer with %j',
    async (change) => {
      nextAnswer = JSON.stringify({ ...bill, ...change });
      expect(await rejectionOf(queryCompensationBill(client, { out_bill_no: 'B1' }))).toBeInstanceOf(
        WechatPayUnexpectedAnswerError,
      );
    },
  );
});

describe('terminateContract', () => {
  const info = {
    contract_id: 'c1',
    plan_id: 'p1',
    out_contract_code: 'C1',
    display_name: '*明',
    contract_state: 'CONTRACT_STATE_TERMINATED',
  };

  it('POSTs exactly the two documented fields', async () => {
    nextAnswer = JSON.stringify({ contract_info: info });
    const request = {
      out_contract_code: 'WxCreditRepayment20200910100000',
      contract_termination_remark: '签约信息有误',
      extra: 1,
    };
    await expect(terminateContract(client, request)).resolves.toEqual({ contract_info: info });
    const req = server.received[0]!;
    expect(req.body).toBe(
      JSON.stringify({ out_contract_code: request.out_contract_code, contract_termination_remark: '签约信息有误' }),
    );
    expect(req.headers['content-type']).toBe('application/json');
    expect(requestSignatureValid(keys, req)).toBe(true);
  });

  it('treats an answer without contract_info, or an empty one, as success', async () => {
    nextAnswer = '{}';
    await expect(
      terminateContract(client, { out_contract_code: 'C1', contract_termination_remark: 'r' }),
    ).resolves.toEqual({});
    nextAnswer = '';
    await expect(
      terminateContract(client, { out_contract_code: 'C1', contract_termination_remark: 'r' }),
    ).resolves.toEqual({});
  });

  it.each([
    [{ out_contract_code: 'C-1' }, 'out_contract_code', 'digits and letters only'], // allowed by seed 002, not by seed 004
    [{ out_contract_code: 'C'.repeat(65) }, 'out_contract_code', 'at most 64 characters'],
    [{ contract_termination_remark: '' }, 'contract_termination_remark', 'must not be empty'],
    [{ contract_termination_remark: '备'.repeat(43) }, 'contract_termination_remark', 'at most 128 bytes of UTF-8'], // 129 bytes
    [{ contract_termination_remark: 'r'.repeat(129) }, 'contract_termination_remark', 'at most 128 bytes of UTF-8'],
    [{ contract_termination_remark: '解约🙏' }, 'contract_termination_remark', 'only 1-3-byte UTF-8'],
  ])('%j: %s', async (change, field, rule) => {
    const error = await validationError(
      terminateContract(client, { out_contract_code: 'C1', contract_termination_remark: 'r', ...change }),
    );
    expect(error.field).toBe(field);
    expect(error.rule).toContain(rule);
  });

  it('accepts a remark of exactly 128 bytes', async () => {
    nextAnswer = '{}';
    for (const remark of ['备'.repeat(42) + 'ab', 'r'.repeat(128)]) {
      await expect(
        terminateContract(client, { out_contract_code: 'C1', contract_termination_remark: remark }),
      ).resolves.toEqual({});
    }
  });

  it('rejects a verified contract_info without contract_state', async () => {
    nextAnswer = JSON.stringify({ contract_info: { ...info, contract_state: undefined } });
    expect(
      await rejectionOf(terminateContract(client, { out_contract_code: 'C1', contract_termination_remark: 'r' })),
    ).toBeInstanceOf(WechatPayUnexpectedAnswerError);
  });
});
