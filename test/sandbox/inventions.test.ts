import { startSandbox, type Sandbox } from '../../src/sandbox';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { inventionsIn } from '../../src/sandbox/inventions';
import { authorizedContract, signedRequest, tempDataDir, type RawAnswer } from './signedRequest';

/** Every answer the sandbox invents beyond the seeds and the digest is labelled: on the answer, in the log, listed. */

let sandbox: Sandbox;
const BUSINESS_NOW = Date.parse('2026-03-10T10:00:00+08:00');
const CREATE = '/v3/credit-repayment/partner/schedule-records/batch-create';
const TERMINATE = '/v3/credit-repayment/partner/contracts/terminate';

beforeAll(async () => {
  sandbox = await startSandbox({ dataDir: tempDataDir(), businessClock: async () => BUSINESS_NOW });
});
afterAll(() => sandbox.close());

const item = (outRecordId: string, repaymentDate = '2026-03-18') => ({
  out_record_id: outRecordId,
  repayment_amount: '10000',
  min_repayment_amount: '2000',
  repayment_date: repaymentDate,
});
const create = (contract: object, outRecordId: string, repaymentDate?: string) =>
  signedRequest(sandbox, { path: CREATE, body: { ...contract, schedule_items: [item(outRecordId, repaymentDate)] } });
const terminate = (code: string) =>
  signedRequest(sandbox, { path: TERMINATE, body: { out_contract_code: code, contract_termination_remark: 'r' } });
const labelOf = (answer: RawAnswer) => answer.headers['x-sandbox-invented'];

describe('labelled answers', () => {
  it('labels the business refusals whose answer the seeds do not give, and leaves documented answers alone', async () => {
    const contract = await authorizedContract(sandbox, 'INV1');
    const created = await create(contract, 'INV1R1');
    expect([created.status, labelOf(created)]).toEqual([200, undefined]);

    const duplicate = await create(contract, 'INV1R1');
    expect([duplicate.status, duplicate.json.code, labelOf(duplicate)]).toEqual([
      400,
      'INVALID_REQUEST',
      'detail.issue=DUPLICATE',
    ]);
    const outOfWindow = await create(contract, 'INV1R2', '2026-04-30');
    expect([outOfWindow.json.code, labelOf(outOfWindow)]).toEqual(['PARAM_ERROR', 'detail.issue=OUT_OF_WINDOW']);
    const unknownContract = await create({ ...contract, contract_id: 'WXCNOSUCH' }, 'INV1R3');
    expect(labelOf(unknownContract)).toBe('detail.issue=CONTRACT_NOT_FOUND');

    const unsigned = await sandbox.control.createContract({
      outContractCode: 'INV2',
      contractId: 'WXCINV2',
      appid: contract.appid,
      openid: 'oINV2',
    });
    const notAuthorized = await create({ ...contract, contract_id: unsigned.contract_id, openid: 'oINV2' }, 'INV2R1');
    expect(labelOf(notAuthorized)).toBe('detail.issue=CONTRACT_NOT_AUTHORIZED');

    expect((await terminate('INV1')).status).toBe(200);
    expect(labelOf(await terminate('INV1'))).toBe('detail.issue=ALREADY_TERMINATED');
    const unknownTerminate = await terminate('INVNOSUCH');
    expect([unknownTerminate.status, unknownTerminate.json.code, labelOf(unknownTerminate)]).toEqual([
      404,
      'RESOURCE_NOT_EXISTS',
      'detail.issue=CONTRACT_NOT_FOUND',
    ]);
    // A query for a record that does not exist: 404 RESOURCE_NOT_EXISTS is the digest's, not an invention.
    const notFound = await signedRequest(sandbox, {
      path: `/v3/credit-repayment/partner/schedule-records/NOSUCH?contract_id=${contract.contract_id}`,
    });
    expect([notFound.status, labelOf(notFound)]).toEqual([404, undefined]);
  });

  it('records the labels in the request log, and only where there are some', async () => {
    await sandbox.control.clearRequestLog();
    const contract = await authorizedContract(sandbox, 'INV3');
    await create(contract, 'INV3R1');
    await create(contract, 'INV3R1');
    const log = await sandbox.control.requestLog('schedule-create');
    expect(log.map((entry) => [entry.status, entry.invented])).toEqual([
      [200, undefined],
      [400, ['detail.issue=DUPLICATE']],
    ]);
  });
});

describe('GET /sandbox/inventions', () => {
  it('lists the documented codes and explains every label an answer can carry', async () => {
    const catalogue = await new SandboxControlClient(sandbox.primaryUrl).inventions();
    expect(catalogue.documentedCodes.seeds).toEqual(['PARAM_ERROR', 'INVALID_REQUEST', 'SIGN_ERROR', 'SYSTEM_ERROR']);
    expect(catalogue.documentedCodes.digest).toEqual(
      expect.arrayContaining(['RESOURCE_NOT_EXISTS', 'FREQUENCY_LIMITED']),
    );
    for (const label of [
      'detail.issue=DUPLICATE',
      'detail.issue=ALREADY_TERMINATED',
      'detail.issue=OUT_OF_WINDOW',
      'detail.issue=CONTRACT_NOT_AUTHORIZED',
      'detail.issue=CONTRACT_NOT_FOUND',
      'detail.issue=SIGNATURE_MISMATCH',
    ]) {
      expect(catalogue.invented[label]).toEqual(expect.any(String));
    }
    const labelled = (await sandbox.control.requestLog()).flatMap((entry) => entry.invented ?? []);
    expect(labelled.length).toBeGreaterThan(0);
    for (const label of labelled) expect(Object.keys(catalogue.invented)).toContain(label);
  });
});

describe('inventionsIn', () => {
  it('labels an issue, and a code that neither the seeds nor the digest document', () => {
    expect(inventionsIn({ code: 'SYSTEM_ERROR', message: 'x' })).toEqual([]);
    expect(inventionsIn({ code: 'RESOURCE_NOT_EXISTS', message: 'x' })).toEqual([]);
    expect(inventionsIn({ code: 'CONTRACT_GONE', message: 'x', detail: { issue: 'DUPLICATE' } })).toEqual([
      'code=CONTRACT_GONE',
      'detail.issue=DUPLICATE',
    ]);
    expect(inventionsIn({ schedule_records: [] })).toEqual([]);
    expect(inventionsIn(undefined)).toEqual([]);
  });
});
