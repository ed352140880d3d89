import {
  isVerifiedNotFound,
  NOT_FOUND_CODES,
  WechatPayApiError,
  WechatPayVerificationError,
} from '../../src/wechatpay/errors';
import {
  answer,
  everythingIn,
  makeKeys,
  rejectionOf,
  unsignedAnswer,
  useServerPair,
  type SignOverrides,
} from './helpers';

/**
 * Error answers (non-2xx) against loopback servers: a signed one is verified like a 2xx and is evidence only when it
 * verifies; an unsigned one is infrastructure (retryable), whatever it says.
 */

const keys = makeKeys();
const PATH = '/v3/credit-repayment/partner/schedule-records/R1';
const NOT_FOUND = JSON.stringify({ code: 'RESOURCE_NOT_EXISTS', message: '预约还款记录不存在' });

const servers = useServerPair(keys, '{}');
const get = (extra = {}) =>
  rejectionOf(
    servers.client({ primary: servers.primary.url, backup: servers.backup.url }, extra).request({
      method: 'GET',
      path: PATH,
    }),
  );

describe('verified error answers', () => {
  it('turn into a WechatPayApiError with code, message, detail and Request-ID; a 4xx is not retried', async () => {
    const body = { code: 'PARAM_ERROR', message: '参数错误', detail: { field: 'appid', issue: 'DUPLICATE' } };
    servers.primary.handle((_req, res) => answer(res, keys, 400, JSON.stringify(body)));
    const error = await get();
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({
      httpStatus: 400,
      code: 'PARAM_ERROR',
      verified: true,
      detail: body.detail,
      requestId: 'req-0001',
      retryable: false,
    });
    expect((error as Error).message).toContain('参数错误');
    expect(servers.backup.received).toHaveLength(0);
  });

  it.each(NOT_FOUND_CODES)('a verified 404 %s is "not found"', async (code) => {
    servers.primary.handle((_req, res) => answer(res, keys, 404, JSON.stringify({ code, message: 'no such record' })));
    const error = await get();
    expect(error).toMatchObject({ httpStatus: 404, code, verified: true, retryable: false });
    expect(isVerifiedNotFound(error)).toBe(true);
  });

  it('a verified 404 with another code is not "not found"', async () => {
    servers.primary.handle((_req, res) =>
      answer(res, keys, 404, JSON.stringify({ code: 'NO_SUCH_API', message: 'x' })),
    );
    const error = await get();
    expect(error).toMatchObject({ httpStatus: 404, verified: true });
    expect(isVerifiedNotFound(error)).toBe(false);
  });

  it('a verified 401 (our own signature or clock) and a 429 are retryable and do not fail over', async () => {
    servers.primary.handle((_req, res) => answer(res, keys, 401, JSON.stringify({ code: 'SIGN_ERROR', message: 'x' })));
    expect(await get()).toMatchObject({ httpStatus: 401, code: 'SIGN_ERROR', verified: true, retryable: true });
    servers.primary.handle((_req, res) =>
      answer(res, keys, 429, JSON.stringify({ code: 'FREQUENCY_LIMITED', message: 'slow down' })),
    );
    expect(await get()).toMatchObject({ httpStatus: 429, verified: true, retryable: true });
    expect(servers.backup.received).toHaveLength(0);
  });

  it('are verified over the raw bytes: a body that is not valid UTF-8 still verifies', async () => {
    // 0xff never occurs in UTF-8: decoding it first would verify U+FFFD instead of what was signed.
    const raw = Buffer.concat([Buffer.from('{"code":"RESOURCE_NOT_EXISTS","message":"'), Buffer.from([0xff, 0xfe])]);
    servers.primary.handle((_req, res) => answer(res, keys, 404, raw));
    const error = await get();
    expect(error).toMatchObject({ httpStatus: 404, code: 'HTTP_404', verified: true });
  });
});

describe('error answers that fail verification', () => {
  it.each([
    ['BAD_SIGNATURE', { sentBody: JSON.stringify({ code: 'RESOURCE_NOT_EXISTS', message: 'forged' }) }],
    ['MISSING_HEADER', { omit: ['Wechatpay-Signature', 'Wechatpay-Nonce', 'Wechatpay-Timestamp'] }],
    ['UNKNOWN_SERIAL', { serial: 'PUB_KEY_ID_UNKNOWN' }],
    ['STALE_TIMESTAMP', { timestamp: String(Math.floor(Date.now() / 1000) - 301) }],
  ] as Array<[string, SignOverrides]>)(
    'a signed 404 that fails with %s is a retryable verification error',
    async (reason, overrides) => {
      servers.primary.handle((_req, res) => answer(res, keys, 404, NOT_FOUND, overrides));
      const error = await get();
      expect(error).toBeInstanceOf(WechatPayVerificationError);
      expect(error).toMatchObject({ reason, httpStatus: 404, retryable: true, code: 'RESPONSE_VERIFICATION_FAILED' });
      expect(isVerifiedNotFound(error)).toBe(false);
      expect(everythingIn(error)).not.toContain('forged');
      expect(servers.backup.received).toHaveLength(0);
    },
  );

  it('a signed 5xx that fails verification is a verification error too', async () => {
    const body = JSON.stringify({ code: 'SYSTEM_ERROR', message: 'x' });
    servers.primary.handle((_req, res) => answer(res, keys, 500, body, { signature: 'AAAA' }));
    expect(await get()).toMatchObject({ name: 'WechatPayVerificationError', httpStatus: 500, retryable: true });
  });
});

describe('unsigned error answers', () => {
  it('an unsigned JSON 404 RESOURCE_NOT_EXISTS keeps its code but is retryable, unverified and not "not found"', async () => {
    const body = JSON.stringify({ code: 'RESOURCE_NOT_EXISTS', message: 'gone', detail: { issue: 'X' } });
    servers.primary.handle((_req, res) => unsignedAnswer(res, 404, body));
    const error = await get();
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ httpStatus: 404, code: 'RESOURCE_NOT_EXISTS', verified: false, retryable: true });
    expect((error as WechatPayApiError).detail).toBeUndefined();
    expect((error as Error).message).toMatch(/not signed/);
    expect(isVerifiedNotFound(error)).toBe(false);
  });

  it("a proxy's HTML 404 page is HTTP_404, retryable, unverified", async () => {
    servers.primary.handle((_req, res) => unsignedAnswer(res, 404, '<html><h1>404 Not Found</h1></html>', 'text/html'));
    const error = await get();
    expect(error).toMatchObject({ httpStatus: 404, code: 'HTTP_404', verified: false, retryable: true });
    expect(isVerifiedNotFound(error)).toBe(false);
  });

  it('an unsigned 401 SIGN_ERROR (WeChat Pay does not sign it) is retryable and unverified', async () => {
    servers.primary.handle((_req, res) =>
      unsignedAnswer(res, 401, JSON.stringify({ code: 'SIGN_ERROR', message: 'x' })),
    );
    expect(await get()).toMatchObject({ httpStatus: 401, code: 'SIGN_ERROR', verified: false, retryable: true });
  });

  it('a body that is JSON but not an object, or a redirect, is still a typed error', async () => {
    servers.primary.handle((_req, res) => unsignedAnswer(res, 400, '"nope"'));
    expect(await get()).toMatchObject({ httpStatus: 400, code: 'HTTP_400', verified: false, retryable: true });
    servers.primary.handle((_req, res) => {
      res.writeHead(302, { Location: servers.backup.url + PATH });
      res.end();
    });
    expect(await get()).toMatchObject({ httpStatus: 302, code: 'HTTP_302', verified: false });
    expect(servers.backup.received).toHaveLength(0);
  });

  it('an unsigned 502 page fails over like any 5xx', async () => {
    servers.primary.handle((_req, res) => unsignedAnswer(res, 502, '<html>Bad Gateway</html>', 'text/html'));
    servers.backup.handle((_req, res) => unsignedAnswer(res, 502, '<html>Bad Gateway</html>', 'text/html'));
    expect(await get()).toMatchObject({ httpStatus: 502, code: 'HTTP_502', verified: false, retryable: true });
    expect(servers.backup.received).toHaveLength(1);
  });
});
