import type { ServerResponse } from 'node:http';
import { WechatPayTransportError } from '../../src/wechatpay/errors';
import { DEFAULT_MAX_ANSWER_BYTES } from '../../src/wechatpay/http';
import { ANSWER_TOO_LARGE } from '../../src/wechatpay/transport';
import { answer, makeKeys, rejectionOf, signedHeaders, useServerPair } from './helpers';

/** The two bounds of every attempt: a total deadline (not an idle timeout) and a maximum answer size. */

const keys = makeKeys();
const PATH = '/v3/credit-repayment/partner/schedule-records/R1';
const servers = useServerPair(keys, '{}');
const timers = new Set<NodeJS.Timeout>();
afterEach(() => timers.forEach((t) => clearInterval(t)));

/** Sends the signed headers at once, then one byte of `body` every `intervalMs`, until done or disconnected. */
function trickle(res: ServerResponse, body: string, intervalMs: number): void {
  res.writeHead(200, { 'Content-Type': 'application/json', ...signedHeaders(keys, body) });
  res.flushHeaders();
  const bytes = Buffer.from(body);
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent >= bytes.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(bytes.subarray(sent, ++sent));
  }, intervalMs);
  timers.add(timer);
}

describe('total deadline per attempt', () => {
  it('ends an answer trickling one byte a second at the deadline, outcome unknown', async () => {
    const body = JSON.stringify({ out_record_id: 'R1', padding: 'x'.repeat(40) });
    servers.primary.handle((_req, res) => trickle(res, body, 1000));
    const started = Date.now();
    const error = await rejectionOf(
      servers.client({ primary: servers.primary.url }, { timeoutMs: 1500 }).request({ method: 'GET', path: PATH }),
    );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', retryable: true, outcomeUnknown: true });
    expect((error as Error).message).toMatch(/deadline 1500 ms/);
    // An idle timeout of 1.5 s would never fire: a byte arrives every second.
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(3000);
  });

  it('lets a slow answer through when it completes within the deadline', async () => {
    const body = JSON.stringify({ a: 1 });
    servers.primary.handle((_req, res) => trickle(res, body, 20));
    const res = await servers.client({ primary: servers.primary.url }, { timeoutMs: 3000 }).request({
      method: 'GET',
      path: PATH,
    });
    expect(res.data).toEqual({ a: 1 });
  });
});

describe('maximum answer size', () => {
  it('refuses an answer whose Content-Length is too large before reading its body', async () => {
    let bodySent = 0;
    servers.primary.handle((_req, res) => {
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': String(DEFAULT_MAX_ANSWER_BYTES + 1),
      });
      res.flushHeaders();
      // The body would follow later; the client must not wait for it.
      const timer = setTimeout(() => {
        bodySent += 1;
        if (!res.destroyed) res.end('x'.repeat(DEFAULT_MAX_ANSWER_BYTES + 1));
      }, 2000);
      timers.add(timer);
    });
    const started = Date.now();
    const error = await rejectionOf(
      servers.client({ primary: servers.primary.url }).request({ method: 'GET', path: PATH }),
    );
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ code: ANSWER_TOO_LARGE, retryable: true, outcomeUnknown: true, httpStatus: 0 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(bodySent).toBe(0);
  });

  it('stops reading an endless answer without Content-Length soon after the limit', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const limit = 64 * 1024 * 1024; // a bound for the test itself: the client must stop long before
    let written = 0;
    let closed: Promise<void> = Promise.resolve();
    servers.primary.handle((_req, res) => {
      closed = new Promise((resolve) => res.on('close', () => resolve()));
      res.writeHead(200, { 'Content-Type': 'application/json', ...signedHeaders(keys, 'never signed in full') });
      const pump = (): void => {
        while (!res.destroyed && written < limit) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
    });
    const error = await rejectionOf(
      servers.client({ primary: servers.primary.url }).request({ method: 'GET', path: PATH }),
    );
    expect(error).toMatchObject({ name: 'WechatPayTransportError', code: ANSWER_TOO_LARGE });
    await closed;
    // What sat in socket buffers when the client hung up, not the 64 MiB a reader of everything would take.
    expect(written).toBeLessThan(16 * 1024 * 1024);
  });

  it('accepts an answer of exactly maxAnswerBytes and refuses one byte more', async () => {
    const body = JSON.stringify({ a: 'x'.repeat(100) });
    servers.primary.handle((_req, res) => answer(res, keys, 200, body));
    const exact = servers.client({ primary: servers.primary.url }, { maxAnswerBytes: Buffer.byteLength(body) });
    expect((await exact.request({ method: 'GET', path: PATH })).data).toEqual(JSON.parse(body));
    const smaller = servers.client({ primary: servers.primary.url }, { maxAnswerBytes: Buffer.byteLength(body) - 1 });
    expect(await rejectionOf(smaller.request({ method: 'GET', path: PATH }))).toMatchObject({
      code: ANSWER_TOO_LARGE,
    });
  });
});
