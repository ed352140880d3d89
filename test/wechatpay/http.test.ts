import {
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayUnexpectedAnswerError,
  WechatPayVerificationError,
} from '../../src/wechatpay/errors';
import { canonicalUrlOf, type WechatPayHttpClient } from '../../src/wechatpay/http';
import { parseAuthorization } from '../../src/wechatpay/signer';
import {
  answer,
  closedPortUrl,
  errorAnswer,
  everythingIn,
  makeClient,
  makeKeys,
  recordingLogger,
  rejectionOf,
  requestSignatureValid,
  startServer,
  type LogLine,
  type TestServer,
} from './helpers';

const keys = makeKeys();
const OK_BODY = JSON.stringify({ out_record_id: 'R1', note: '中文' });
const PATH = '/v3/credit-repayment/partner/schedule-records/R1';

let primary: TestServer;
let backup: TestServer;
const clients: WechatPayHttpClient[] = [];

function client(
  ...args: Parameters<typeof makeClient> extends [unknown, ...infer Rest] ? Rest : never
): WechatPayHttpClient {
  const c = makeClient(keys, ...args);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  primary = await startServer((_req, res) => answer(res, keys, 200, OK_BODY));
  backup = await startServer((_req, res) => answer(res, keys, 200, OK_BODY));
});

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all([primary.close(), backup.close()]);
});

describe('requests', () => {
  it('signs exactly what it sends and sends the required headers (GET)', async () => {
    const c = client({ primary: primary.url });
    const res = await c.request<{ note: string }>({ method: 'GET', path: PATH, query: { contract_id: 'C1' } });
    expect(res).toEqual({
      httpStatus: 200,
      data: { out_record_id: 'R1', note: '中文' },
      requestId: 'req-0001',
      baseUrl: primary.url,
    });
    const req = primary.received[0]!;
    expect(req.url).toBe(`${PATH}?contract_id=C1`);
    expect(req.body).toBe('');
    expect(requestSignatureValid(keys, req)).toBe(true);
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(
      /^wechatpay-credit-repayment-worker\/\d+\.\d+\.\d+ \(node \d+\.\d+\.\d+\)$/,
    );
    expect(req.headers['wechatpay-serial']).toBe(keys.platformSerial);
    expect(req.headers['content-type']).toBeUndefined();
  });

  it('signs the JSON body byte for byte on POST, with Content-Type', async () => {
    const c = client({ primary: primary.url }, { userAgent: 'test-agent/1' });
    const body = { out_contract_code: 'C1', contract_termination_remark: '签约信息有误' };
    await c.request({ method: 'POST', path: '/v3/credit-repayment/partner/contracts/terminate', body });
    const req = primary.received[0]!;
    expect(req.body).toBe(JSON.stringify(body));
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('test-agent/1');
    expect(requestSignatureValid(keys, req)).toBe(true);
  });

  it('encodes path and query once, and the signature covers that exact string', async () => {
    const c = client({ primary: primary.url });
    const path = `/v3/credit-repayment/partner/schedule-records/${encodeURIComponent('R 1/x')}`;
    await c.request({ method: 'GET', path, query: { contract_id: 'C 1&x=ü' } });
    const req = primary.received[0]!;
    expect(req.url).toBe('/v3/credit-repayment/partner/schedule-records/R%201%2Fx?contract_id=C+1%26x%3D%C3%BC');
    expect(requestSignatureValid(keys, req)).toBe(true);
    // and a signature over any other spelling of the URL does not verify
    expect(
      requestSignatureValid(keys, {
        ...req,
        url: '/v3/credit-repayment/partner/schedule-records/R 1/x?contract_id=C1',
      }),
    ).toBe(false);
  });

  it('builds canonical URLs without a dangling "?"', () => {
    expect(canonicalUrlOf('/a')).toBe('/a');
    expect(canonicalUrlOf('/a', {})).toBe('/a');
    expect(canonicalUrlOf('/a', { b: 'c d', e: '/' })).toBe('/a?b=c+d&e=%2F');
  });

  it('parses an empty verified body as undefined', async () => {
    primary.handle((_req, res) => answer(res, keys, 204, ''));
    const res = await client({ primary: primary.url }).request({ method: 'POST', path: '/x', body: {} });
    expect(res.httpStatus).toBe(204);
    expect(res.data).toBeUndefined();
  });

  it('reports a verified answer that is not JSON as UNEXPECTED_ANSWER', async () => {
    primary.handle((_req, res) => answer(res, keys, 200, 'not json'));
    const error = await rejectionOf(client({ primary: primary.url }).request({ method: 'GET', path: PATH }));
    expect(error).toBeInstanceOf(WechatPayUnexpectedAnswerError);
    expect(error).toMatchObject({
      code: 'UNEXPECTED_ANSWER',
      httpStatus: 200,
      retryable: false,
      requestId: 'req-0001',
    });
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const c = client({ primary: primary.url });
    await c.request({ method: 'GET', path: PATH });
    await c.request({ method: 'GET', path: PATH });
    await c.request({ method: 'GET', path: PATH });
    expect(primary.received).toHaveLength(3);
    expect(primary.sockets).toHaveLength(1);
  });

  it('frees an idle connection before WeChat Pay would (about 8 s)', async () => {
    const c = client({ primary: primary.url });
    await c.request({ method: 'GET', path: PATH });
    const socket = primary.sockets[0]!;
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) =>
      socket.once('close', () => resolve(Date.now() - started)),
    );
    expect(closedAfter).toBeGreaterThan(6_000);
    expect(closedAfter).toBeLessThan(8_000);
  }, 15_000);
});

describe('error answers', () => {
  it('turns a JSON error body into a WechatPayApiError with code, message, detail and Request-ID', async () => {
    primary.handle((_req, res) =>
      errorAnswer(
        res,
        400,
        JSON.stringify({ code: 'PARAM_ERROR', message: '参数错误', detail: { field: 'appid', issue: 'DUPLICATE' } }),
      ),
    );
    const error = await rejectionOf(
      client({ primary: primary.url, backup: backup.url }).request({ method: 'GET', path: PATH }),
    );
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({
      httpStatus: 400,
      code: 'PARAM_ERROR',
      detail: { field: 'appid', issue: 'DUPLICATE' },
      requestId: 'req-err-1',
      retryable: false,
    });
    expect((error as Error).message).toContain('参数错误');
    expect(backup.received).toHaveLength(0);
  });

  it('keeps a garbage error body a typed error', async () => {
    primary.handle((_req, res) => errorAnswer(res, 502, '<html>Bad Gateway</html>'));
    const error = await rejectionOf(client({ primary: primary.url }).request({ method: 'GET', path: PATH }));
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ httpStatus: 502, code: 'HTTP_502', retryable: true, requestId: 'req-err-1' });
  });

  it('keeps an error body that is JSON but not an object a typed error', async () => {
    primary.handle((_req, res) => errorAnswer(res, 401, '"nope"'));
    const error = await rejectionOf(client({ primary: primary.url }).request({ method: 'GET', path: PATH }));
    expect(error).toMatchObject({ httpStatus: 401, code: 'HTTP_401', retryable: false });
  });

  it('does not fail over on 429, and marks it retryable', async () => {
    primary.handle((_req, res) =>
      errorAnswer(res, 429, JSON.stringify({ code: 'FREQUENCY_LIMITED', message: 'slow down' })),
    );
    const error = await rejectionOf(
      client({ primary: primary.url, backup: backup.url }).request({ method: 'GET', path: PATH }),
    );
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ httpStatus: 429, code: 'FREQUENCY_LIMITED', retryable: true });
    expect(backup.received).toHaveLength(0);
  });

  it('does not follow redirects', async () => {
    primary.handle((_req, res) => {
      res.writeHead(302, { Location: backup.url + PATH });
      res.end();
    });
    const error = await rejectionOf(client({ primary: primary.url }).request({ method: 'GET', path: PATH }));
    expect(error).toMatchObject({ httpStatus: 302, code: 'HTTP_302' });
    expect(backup.received).toHaveLength(0);
  });
});

describe('verification', () => {
  const SECRET_BODY = JSON.stringify({ out_record_id: 'UNVERIFIED_MARKER_42' });
  const cases: Array<[string, Parameters<typeof answer>[4]]> = [
    ['BAD_SIGNATURE', { sentBody: JSON.stringify({ out_record_id: 'UNVERIFIED_MARKER_43' }) }],
    ['MISSING_HEADER', { omit: ['Wechatpay-Signature'] }],
    ['STALE_TIMESTAMP', { timestamp: String(Math.floor(Date.now() / 1000) - 301) }],
    ['UNKNOWN_SERIAL', { serial: 'PUB_KEY_ID_UNKNOWN' }],
    ['SIGNTEST_PROBE', { signature: 'WECHATPAY/SIGNTEST/abcdef' }],
  ];
  it.each(cases)('rejects %s, returns nothing of the body and does not fail over', async (reason, overrides) => {
    primary.handle((_req, res) => answer(res, keys, 200, SECRET_BODY, overrides));
    const error = await rejectionOf(
      client({ primary: primary.url, backup: backup.url }).request({ method: 'GET', path: PATH }),
    );
    expect(error).toBeInstanceOf(WechatPayVerificationError);
    expect(error).toMatchObject({ reason, httpStatus: 200, code: 'RESPONSE_VERIFICATION_FAILED' });
    expect(everythingIn(error)).not.toContain('UNVERIFIED_MARKER');
    expect(backup.received).toHaveLength(0);
  });

  it('does not verify error answers (as the official SDKs), but still never trusts them as data', async () => {
    primary.handle((_req, res) =>
      errorAnswer(res, 404, JSON.stringify({ code: 'NOT_FOUND', message: 'no such record' })),
    );
    const error = await rejectionOf(client({ primary: primary.url }).request({ method: 'GET', path: PATH }));
    expect(error).toMatchObject({ httpStatus: 404, code: 'NOT_FOUND' });
  });
});

describe('transport errors without a backup', () => {
  it('connection refused: not sent, outcome known', async () => {
    const error = await rejectionOf(
      client({ primary: await closedPortUrl() }).request({ method: 'POST', path: '/x', body: {} }),
    );
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', httpStatus: 0, retryable: true, outcomeUnknown: false });
  });

  it('timeout after sending: outcome unknown', async () => {
    primary.handle(() => undefined); // never answers
    const started = Date.now();
    const error = await rejectionOf(
      client({ primary: primary.url }, { timeoutMs: 300 }).request({ method: 'POST', path: '/x', body: {} }),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', retryable: true, outcomeUnknown: true });
  });

  it('reset after sending: outcome unknown', async () => {
    primary.handle((_req, _res, raw) => raw.socket.destroy());
    const error = await rejectionOf(client({ primary: primary.url }).request({ method: 'POST', path: '/x', body: {} }));
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: 'ECONNRESET', outcomeUnknown: true });
  });
});

describe('failover', () => {
  it('goes to the backup when the primary refuses connections, signing anew', async () => {
    const lines: LogLine[] = [];
    const c = client({ primary: await closedPortUrl(), backup: backup.url }, { logger: recordingLogger(lines) });
    const res = await c.request({ method: 'POST', path: '/x', body: { a: 1 } });
    expect(res.baseUrl).toBe(backup.url);
    expect(backup.received).toHaveLength(1);
    expect(requestSignatureValid(keys, backup.received[0]!)).toBe(true);
    expect(lines.some((l) => l.level === 'warn' && l.meta?.code === 'ECONNREFUSED')).toBe(true);
  });

  it.each([
    [
      'a 5xx',
      (s: TestServer) =>
        s.handle((_r, res) => errorAnswer(res, 500, JSON.stringify({ code: 'SYSTEM_ERROR', message: 'x' }))),
    ],
    ['a timeout', (s: TestServer) => s.handle(() => undefined)],
    ['a reset', (s: TestServer) => s.handle((_r, _res, raw) => raw.socket.destroy())],
  ])(
    'fails over on %s, stays on the backup during the cool-down, then tries the primary again',
    async (_name, breakPrimary) => {
      breakPrimary(primary);
      const c = client({ primary: primary.url, backup: backup.url }, { timeoutMs: 300, failbackAfterMs: 400 });
      expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(backup.url);
      expect(primary.received).toHaveLength(1);

      expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(backup.url);
      expect(primary.received).toHaveLength(1); // skipped during the cool-down

      primary.handle((_req, res) => answer(res, keys, 200, OK_BODY));
      await new Promise((r) => setTimeout(r, 450));
      expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(primary.url);
      expect(primary.received).toHaveLength(2);
    },
  );

  it('during the cool-down, falls back to the primary when the backup fails, and clears the cool-down', async () => {
    primary.handle((_req, res) => errorAnswer(res, 503, '{}'));
    const c = client({ primary: primary.url, backup: backup.url }, { failbackAfterMs: 60_000 });
    await c.request({ method: 'GET', path: PATH }); // primary down, backup answers
    primary.handle((_req, res) => answer(res, keys, 200, OK_BODY));
    backup.handle((_req, res) => errorAnswer(res, 503, '{}'));
    expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(primary.url);
    expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(primary.url);
    expect(backup.received).toHaveLength(2);
  });

  it('throws the backup error when both fail, trying each once', async () => {
    primary.handle((_req, res) => errorAnswer(res, 500, JSON.stringify({ code: 'SYSTEM_ERROR', message: 'p' })));
    backup.handle((_req, res) => errorAnswer(res, 503, JSON.stringify({ code: 'SERVICE_UNAVAILABLE', message: 'b' })));
    const error = await rejectionOf(
      client({ primary: primary.url, backup: backup.url }).request({ method: 'GET', path: PATH }),
    );
    expect(error).toMatchObject({ httpStatus: 503, code: 'SERVICE_UNAVAILABLE', retryable: true });
    expect(primary.received).toHaveLength(1);
    expect(backup.received).toHaveLength(1);
  });
});

describe('redaction', () => {
  it('never puts the Authorization header, the key or the request body in errors or logs', async () => {
    const lines: LogLine[] = [];
    const remark = 'REQUEST_BODY_MARKER_解约';
    const body = { out_contract_code: 'C1', contract_termination_remark: remark };
    const privatePem = keys.merchantPrivate.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyLine = privatePem.split('\n')[1]!;
    const errors: unknown[] = [];
    const run = async (c: WechatPayHttpClient) =>
      errors.push(await rejectionOf(c.request({ method: 'POST', path: '/x', body })));

    primary.handle(() => undefined);
    await run(client({ primary: primary.url }, { timeoutMs: 200, logger: recordingLogger(lines) })); // timeout
    primary.handle((_req, _res, raw) => raw.socket.destroy());
    await run(client({ primary: primary.url, backup: await closedPortUrl() }, { logger: recordingLogger(lines) })); // reset, refused
    primary.handle((_req, res) => errorAnswer(res, 401, JSON.stringify({ code: 'SIGN_ERROR', message: 'bad' })));
    await run(client({ primary: primary.url }, { logger: recordingLogger(lines) }));
    primary.handle((_req, res) => answer(res, keys, 200, '{}', { serial: 'nope' }));
    await run(client({ primary: primary.url }, { logger: recordingLogger(lines) }));

    const authorizations = primary.received.map((r) => String(r.headers.authorization));
    expect(authorizations.length).toBeGreaterThanOrEqual(4);
    const signatures = authorizations.map((a) => parseAuthorization(a)!.signature);
    const exposed = [...errors.map(everythingIn), JSON.stringify(lines)].join('\n');
    expect(errors.map((e) => (e as Error).name)).toEqual([
      'WechatPayTransportError',
      'WechatPayTransportError',
      'WechatPayApiError',
      'WechatPayVerificationError',
    ]);
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of [...authorizations, ...signatures, keyLine, remark, 'WECHATPAY2-SHA256-RSA2048']) {
      expect(exposed).not.toContain(secret);
    }
  });
});
