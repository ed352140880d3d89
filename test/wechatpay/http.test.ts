import { WechatPayTransportError, WechatPayUnexpectedAnswerError } from '../../src/wechatpay/errors';
import { canonicalUrlOf, type WechatPayHttpClient } from '../../src/wechatpay/http';
import { parseAuthorization } from '../../src/wechatpay/signer';
import {
  answer,
  closedPortUrl,
  everythingIn,
  makeKeys,
  recordingLogger,
  rejectionOf,
  requestSignatureValid,
  unsignedAnswer,
  useServerPair,
  type LogLine,
  type TestServer,
} from './helpers';

/** The HTTP layer: signing what is sent, keep-alive, transport errors and failover. Error answers: errorAnswers.test.ts. */

const keys = makeKeys();
const OK_BODY = JSON.stringify({ out_record_id: 'R1', note: '中文' });
const PATH = '/v3/credit-repayment/partner/schedule-records/R1';

const servers = useServerPair(keys, OK_BODY);
const client = servers.client;

describe('requests', () => {
  it('signs exactly what it sends and sends the required headers (GET)', async () => {
    const c = client({ primary: servers.primary.url });
    const res = await c.request<{ note: string }>({ method: 'GET', path: PATH, query: { contract_id: 'C1' } });
    expect(res).toEqual({
      httpStatus: 200,
      data: { out_record_id: 'R1', note: '中文' },
      requestId: 'req-0001',
      baseUrl: servers.primary.url,
    });
    const req = servers.primary.received[0]!;
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
    const c = client({ primary: servers.primary.url }, { userAgent: 'test-agent/1' });
    const body = { out_contract_code: 'C1', contract_termination_remark: '签约信息有误' };
    await c.request({ method: 'POST', path: '/v3/credit-repayment/partner/contracts/terminate', body });
    const req = servers.primary.received[0]!;
    expect(req.body).toBe(JSON.stringify(body));
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('test-agent/1');
    expect(requestSignatureValid(keys, req)).toBe(true);
  });

  it('encodes path and query once, and the signature covers that exact string', async () => {
    const c = client({ primary: servers.primary.url });
    const path = `/v3/credit-repayment/partner/schedule-records/${encodeURIComponent('R 1/x')}`;
    await c.request({ method: 'GET', path, query: { contract_id: 'C 1&x=ü' } });
    const req = servers.primary.received[0]!;
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
    servers.primary.handle((_req, res) => answer(res, keys, 204, ''));
    const res = await client({ primary: servers.primary.url }).request({ method: 'POST', path: '/x', body: {} });
    expect(res.httpStatus).toBe(204);
    expect(res.data).toBeUndefined();
  });

  it('reports a verified answer that is not JSON as UNEXPECTED_ANSWER', async () => {
    servers.primary.handle((_req, res) => answer(res, keys, 200, 'not json'));
    const error = await rejectionOf(client({ primary: servers.primary.url }).request({ method: 'GET', path: PATH }));
    expect(error).toBeInstanceOf(WechatPayUnexpectedAnswerError);
    expect(error).toMatchObject({
      code: 'UNEXPECTED_ANSWER',
      httpStatus: 200,
      retryable: false,
      requestId: 'req-0001',
    });
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const c = client({ primary: servers.primary.url });
    await c.request({ method: 'GET', path: PATH });
    await c.request({ method: 'GET', path: PATH });
    await c.request({ method: 'GET', path: PATH });
    expect(servers.primary.received).toHaveLength(3);
    expect(servers.primary.sockets).toHaveLength(1);
  });

  it('frees an idle connection before WeChat Pay would (about 8 s)', async () => {
    const c = client({ primary: servers.primary.url });
    await c.request({ method: 'GET', path: PATH });
    const socket = servers.primary.sockets[0]!;
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) =>
      socket.once('close', () => resolve(Date.now() - started)),
    );
    expect(closedAfter).toBeGreaterThan(6_000);
    expect(closedAfter).toBeLessThan(8_000);
  }, 15_000);
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
    servers.primary.handle(() => undefined); // never answers
    const started = Date.now();
    const error = await rejectionOf(
      client({ primary: servers.primary.url }, { timeoutMs: 300 }).request({ method: 'POST', path: '/x', body: {} }),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', retryable: true, outcomeUnknown: true });
  });

  it('reset after sending: outcome unknown', async () => {
    servers.primary.handle((_req, _res, raw) => raw.socket.destroy());
    const error = await rejectionOf(
      client({ primary: servers.primary.url }).request({ method: 'POST', path: '/x', body: {} }),
    );
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: 'ECONNRESET', outcomeUnknown: true });
  });
});

describe('failover', () => {
  it('goes to the backup when the primary refuses connections, signing anew', async () => {
    const lines: LogLine[] = [];
    const c = client(
      { primary: await closedPortUrl(), backup: servers.backup.url },
      { logger: recordingLogger(lines) },
    );
    const res = await c.request({ method: 'POST', path: '/x', body: { a: 1 } });
    expect(res.baseUrl).toBe(servers.backup.url);
    expect(servers.backup.received).toHaveLength(1);
    expect(requestSignatureValid(keys, servers.backup.received[0]!)).toBe(true);
    expect(lines.some((l) => l.level === 'warn' && l.meta?.code === 'ECONNREFUSED')).toBe(true);
  });

  it.each([
    [
      'a 5xx',
      (s: TestServer) =>
        s.handle((_r, res) => unsignedAnswer(res, 500, JSON.stringify({ code: 'SYSTEM_ERROR', message: 'x' }))),
    ],
    ['a timeout', (s: TestServer) => s.handle(() => undefined)],
    ['a reset', (s: TestServer) => s.handle((_r, _res, raw) => raw.socket.destroy())],
  ])(
    'fails over on %s, stays on the backup during the cool-down, then tries the primary again',
    async (_name, breakPrimary) => {
      breakPrimary(servers.primary);
      const c = client(
        { primary: servers.primary.url, backup: servers.backup.url },
        { timeoutMs: 300, failbackAfterMs: 400 },
      );
      expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(servers.backup.url);
      expect(servers.primary.received).toHaveLength(1);

      expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(servers.backup.url);
      expect(servers.primary.received).toHaveLength(1); // skipped during the cool-down

      servers.primary.handle((_req, res) => answer(res, keys, 200, OK_BODY));
      await new Promise((r) => setTimeout(r, 450));
      expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(servers.primary.url);
      expect(servers.primary.received).toHaveLength(2);
    },
  );

  it('during the cool-down, falls back to the primary when the backup fails, and clears the cool-down', async () => {
    servers.primary.handle((_req, res) => unsignedAnswer(res, 503, '{}'));
    const c = client({ primary: servers.primary.url, backup: servers.backup.url }, { failbackAfterMs: 60_000 });
    await c.request({ method: 'GET', path: PATH }); // primary down, backup answers
    servers.primary.handle((_req, res) => answer(res, keys, 200, OK_BODY));
    servers.backup.handle((_req, res) => unsignedAnswer(res, 503, '{}'));
    expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(servers.primary.url);
    expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(servers.primary.url);
    expect(servers.backup.received).toHaveLength(2);
  });

  it.each([
    ['a timeout', (s: TestServer) => s.handle(() => undefined)],
    ['a reset', (s: TestServer) => s.handle((_r, _res, raw) => raw.socket.destroy())],
  ])('does not resend a POST whose outcome is unknown (%s) to the backup, and says so', async (_name, breakPrimary) => {
    breakPrimary(servers.primary);
    const lines: LogLine[] = [];
    const c = client(
      { primary: servers.primary.url, backup: servers.backup.url },
      { timeoutMs: 300, logger: recordingLogger(lines) },
    );
    const error = await rejectionOf(c.request({ method: 'POST', path: '/x', body: { a: 1 } }));
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ outcomeUnknown: true, retryable: true });
    expect(servers.primary.received).toHaveLength(1);
    expect(servers.backup.received).toHaveLength(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/not resent/) }));
    // The primary is still cooling down: the caller's next call (its reconciling query) goes to the backup.
    expect((await c.request({ method: 'GET', path: PATH })).baseUrl).toBe(servers.backup.url);
  });

  it('still resends a POST that a 5xx answered to the backup', async () => {
    servers.primary.handle((_r, res) => unsignedAnswer(res, 503, '{}'));
    const c = client({ primary: servers.primary.url, backup: servers.backup.url });
    expect((await c.request({ method: 'POST', path: '/x', body: { a: 1 } })).baseUrl).toBe(servers.backup.url);
    expect(servers.backup.received).toHaveLength(1);
  });

  it('throws the backup error when both fail, trying each once', async () => {
    servers.primary.handle((_req, res) =>
      unsignedAnswer(res, 500, JSON.stringify({ code: 'SYSTEM_ERROR', message: 'p' })),
    );
    servers.backup.handle((_req, res) =>
      unsignedAnswer(res, 503, JSON.stringify({ code: 'SERVICE_UNAVAILABLE', message: 'b' })),
    );
    const error = await rejectionOf(
      client({ primary: servers.primary.url, backup: servers.backup.url }).request({ method: 'GET', path: PATH }),
    );
    expect(error).toMatchObject({ httpStatus: 503, code: 'SERVICE_UNAVAILABLE', retryable: true });
    expect(servers.primary.received).toHaveLength(1);
    expect(servers.backup.received).toHaveLength(1);
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

    servers.primary.handle(() => undefined);
    await run(client({ primary: servers.primary.url }, { timeoutMs: 200, logger: recordingLogger(lines) })); // timeout
    servers.primary.handle((_req, _res, raw) => raw.socket.destroy());
    await run(
      client({ primary: servers.primary.url, backup: await closedPortUrl() }, { logger: recordingLogger(lines) }),
    ); // reset, not resent
    servers.primary.handle((_req, res) =>
      unsignedAnswer(res, 401, JSON.stringify({ code: 'SIGN_ERROR', message: 'bad' })),
    );
    await run(client({ primary: servers.primary.url }, { logger: recordingLogger(lines) }));
    servers.primary.handle((_req, res) => answer(res, keys, 200, '{}', { serial: 'nope' }));
    await run(client({ primary: servers.primary.url }, { logger: recordingLogger(lines) }));

    const authorizations = servers.primary.received.map((r) => String(r.headers.authorization));
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
