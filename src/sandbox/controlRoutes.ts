import type { SandboxControl } from './control';
import { SandboxError } from './errors';

/**
 * The control API over HTTP: JSON in, JSON out, no signature, under `/sandbox/` only (never /v3). Each route
 * maps onto one SandboxControl operation; errors keep WeChat's shape `{code, message, detail}`.
 *
 *   GET    /sandbox/health
 *   POST   /sandbox/contracts                          {outContractCode, contractId, appid, openid, authorized?, …}
 *   GET    /sandbox/contracts                          (all of them)
 *   GET    /sandbox/contracts/:code
 *   POST   /sandbox/contracts/:code/authorize
 *   POST   /sandbox/contracts/:code/terminate-as-user  {remark?}
 *   GET    /sandbox/records[?contract_id=]
 *   PATCH  /sandbox/records/:outRecordId               {repayment_amount?, min_repayment_amount?, repayment_date?}
 *   DELETE /sandbox/records/:outRecordId
 *   POST   /sandbox/bills                              {outBillNo, amount, transactionId?, transferRemark?, state?}
 *   GET    /sandbox/bills/:outBillNo
 *   POST   /sandbox/bills/:outBillNo/state             {state, closeReason?}
 *   GET    /sandbox/requests[?endpoint=]                DELETE /sandbox/requests
 *   GET    /sandbox/inventions                         what the answers invent beyond the seeds and the digest
 *   POST   /sandbox/faults                             {endpoint, kind, count?, delayMs?}
 *   GET    /sandbox/faults                             DELETE /sandbox/faults
 *   POST   /sandbox/primary                            {up: boolean}
 *   POST   /sandbox/clock                              {offsetMs}
 *   POST   /sandbox/auth-clock                         {offsetMs}   (clock drift: 401s and stale answers)
 *   POST   /sandbox/reset
 *   GET    /sandbox/keys                               POST /sandbox/keys (adds one)
 *   POST   /sandbox/keys/:id                           {active: boolean}
 *   GET    /sandbox/certificates                       POST /sandbox/certificates {notBefore?, notAfter?, signing?}
 *   POST   /sandbox/certificates/:serial/sign          (signing switches to it)
 */

export interface ControlAnswer {
  status: number;
  body: unknown;
}

type Body = Record<string, unknown>;
type Operation = (control: SandboxControl, params: string[], query: URLSearchParams, body: Body) => Promise<unknown>;

const ROUTES: Array<[method: string, pattern: RegExp, operation: Operation]> = [
  ['GET', /^\/sandbox\/health$/, (c) => c.health()],
  ['POST', /^\/sandbox\/contracts$/, (c, _p, _q, b) => c.createContract(b as never)],
  ['GET', /^\/sandbox\/contracts$/, (c) => c.listContracts()],
  ['GET', /^\/sandbox\/contracts\/([^/]+)$/, (c, [code]) => c.getContract(code as string)],
  ['POST', /^\/sandbox\/contracts\/([^/]+)\/authorize$/, (c, [code]) => c.authorizeContract(code as string)],
  [
    'POST',
    /^\/sandbox\/contracts\/([^/]+)\/terminate-as-user$/,
    (c, [code], _q, b) => c.terminateAsUser(code as string, optionalString(b.remark, 'remark')),
  ],
  ['GET', /^\/sandbox\/records$/, (c, _p, q) => c.listRecords(q.get('contract_id') ?? undefined)],
  ['PATCH', /^\/sandbox\/records\/([^/]+)$/, (c, [id], _q, b) => c.changeRecord(id as string, b as never)],
  ['DELETE', /^\/sandbox\/records\/([^/]+)$/, (c, [id]) => c.deleteRecord(id as string)],
  ['POST', /^\/sandbox\/bills$/, (c, _p, _q, b) => c.createBill(b as never)],
  ['GET', /^\/sandbox\/bills\/([^/]+)$/, (c, [no]) => c.getBill(no as string)],
  [
    'POST',
    /^\/sandbox\/bills\/([^/]+)\/state$/,
    (c, [no], _q, b) => c.setBillState(no as string, b.state as never, optionalString(b.closeReason, 'closeReason')),
  ],
  ['GET', /^\/sandbox\/requests$/, (c, _p, q) => c.requestLog(q.get('endpoint') ?? undefined)],
  ['DELETE', /^\/sandbox\/requests$/, (c) => c.clearRequestLog()],
  ['GET', /^\/sandbox\/inventions$/, (c) => c.inventions()],
  ['POST', /^\/sandbox\/faults$/, (c, _p, _q, b) => c.injectFault(b as never)],
  ['GET', /^\/sandbox\/faults$/, (c) => c.listFaults()],
  ['DELETE', /^\/sandbox\/faults$/, (c) => c.clearFaults()],
  [
    'POST',
    /^\/sandbox\/primary$/,
    (c, _p, _q, b) => c.setPrimaryDown(typeof b.up === 'boolean' ? !b.up : (b.up as never)),
  ],
  ['POST', /^\/sandbox\/clock$/, (c, _p, _q, b) => c.setClockOffset(b.offsetMs as never)],
  ['POST', /^\/sandbox\/auth-clock$/, (c, _p, _q, b) => c.setAuthClockOffset(b.offsetMs as never)],
  ['POST', /^\/sandbox\/reset$/, (c) => c.reset()],
  ['GET', /^\/sandbox\/keys$/, (c) => c.listPlatformKeys()],
  ['POST', /^\/sandbox\/keys$/, (c) => c.addPlatformKey()],
  ['POST', /^\/sandbox\/keys\/([^/]+)$/, (c, [id], _q, b) => c.setPlatformKeyActive(id as string, b.active as never)],
  ['GET', /^\/sandbox\/certificates$/, (c) => c.certificates.list()],
  ['POST', /^\/sandbox\/certificates$/, (c, _p, _q, b) => c.certificates.add(b)],
  ['POST', /^\/sandbox\/certificates\/([^/]+)\/sign$/, (c, [serial]) => c.certificates.useForSigning(serial as string)],
];

export async function handleControlRequest(
  control: SandboxControl,
  method: string,
  pathname: string,
  query: URLSearchParams,
  raw: string,
): Promise<ControlAnswer> {
  try {
    for (const [routeMethod, pattern, operation] of ROUTES) {
      const match = pattern.exec(pathname);
      if (!match || routeMethod !== method) continue;
      const params = match.slice(1).map((p) => decodeURIComponent(p));
      const result = await operation(control, params, query, parseBody(raw));
      return result === undefined ? { status: 204, body: undefined } : { status: 200, body: result };
    }
    throw new SandboxError(404, 'NOT_FOUND', `${method} ${pathname}: no such control operation`);
  } catch (err) {
    if (err instanceof URIError)
      return { status: 400, body: { code: 'PARAM_ERROR', message: 'bad percent-encoding in the path' } };
    if (err instanceof SandboxError) return { status: err.httpStatus, body: err.toBody() };
    throw err;
  }
}

function parseBody(raw: string): Body {
  if (raw.trim().length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SandboxError(400, 'PARAM_ERROR', 'body: not valid JSON', { field: 'body', issue: 'INVALID_JSON' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SandboxError(400, 'PARAM_ERROR', 'body: must be a JSON object', { field: 'body', issue: 'INVALID' });
  }
  return parsed as Body;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new SandboxError(400, 'PARAM_ERROR', `${field}: a non-empty string`, { field, issue: 'INVALID' });
  }
  return value;
}
