import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LENDER_EVENT_SIGNATURE_HEADER,
  LenderEventVerificationError,
  verifyLenderEvent,
  type LenderEvent,
} from '../../src/client';
import { signLenderEvent } from '../../src/client/lenderEventSignature';
import { freePort, startProcess, type RunningProcess } from '../e2e/processes';
import { dist, isolatedEnv } from '../e2e/support';

/**
 * The signature of lender events: what verifyLenderEvent accepts and refuses (a tampered body, an old timestamp,
 * another secret), and the development receiver (`npm run events`) doing the same over HTTP.
 */

const SECRET = 'whsec-test-0123456789abcdef';
const event: LenderEvent = {
  schemaVersion: 1,
  id: 'LOAN1:run-1:1',
  lifecycleId: 'run-1',
  sequence: 1,
  type: 'CONTRACT_SIGNED',
  occurredAt: '2026-11-28T08:00:00.000Z',
  outContractCode: 'LOAN1',
  contractId: 'WXCLOAN1',
  data: { signedTime: '2026-11-28T16:00:00+08:00' },
};
const body = JSON.stringify(event);
const now = Date.now();
const signedNow = (payload = body, secrets = [SECRET]) => signLenderEvent(payload, secrets, now / 1000);

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LenderEventVerificationError);
    expect(error).toMatchObject({ httpStatus: 400, retryable: false });
    return (error as LenderEventVerificationError).code;
  }
  throw new Error('accepted');
}

describe('verifyLenderEvent', () => {
  it('accepts the event as signed, over the raw bytes, and returns it', () => {
    const signature = signedNow();
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyLenderEvent({ body, signature, secret: SECRET, now })).toEqual(event);
    expect(verifyLenderEvent({ body: Buffer.from(body), signature, secret: SECRET, now })).toEqual(event);
  });

  it('refuses a tampered body, another secret, and an old or future timestamp', () => {
    const signature = signedNow();
    const tampered = body.replace('"sequence":1', '"sequence":2');
    expect(refusal(() => verifyLenderEvent({ body: tampered, signature, secret: SECRET, now }))).toBe(
      'SIGNATURE_MISMATCH',
    );
    expect(refusal(() => verifyLenderEvent({ body, signature, secret: 'another', now }))).toBe('SIGNATURE_MISMATCH');
    const old = signLenderEvent(body, [SECRET], now / 1000 - 301);
    expect(refusal(() => verifyLenderEvent({ body, signature: old, secret: SECRET, now }))).toBe(
      'TIMESTAMP_OUT_OF_TOLERANCE',
    );
    const future = signLenderEvent(body, [SECRET], now / 1000 + 301);
    expect(refusal(() => verifyLenderEvent({ body, signature: future, secret: SECRET, now }))).toBe(
      'TIMESTAMP_OUT_OF_TOLERANCE',
    );
    // Within a wider window the old one is accepted: the timestamp is what was signed, not the arrival time.
    expect(verifyLenderEvent({ body, signature: old, secret: SECRET, now, toleranceSeconds: 600 }).id).toBe(event.id);
    // Moving the signed timestamp breaks the signature.
    const moved = signature.replace(/^t=\d+/, `t=${Math.floor(now / 1000) + 1}`);
    expect(refusal(() => verifyLenderEvent({ body, signature: moved, secret: SECRET, now }))).toBe(
      'SIGNATURE_MISMATCH',
    );
  });

  it('refuses a missing or malformed header', () => {
    expect(refusal(() => verifyLenderEvent({ body, signature: undefined, secret: SECRET, now }))).toBe(
      'SIGNATURE_MISSING',
    );
    expect(refusal(() => verifyLenderEvent({ body, signature: 'v1=abc', secret: SECRET, now }))).toBe(
      'SIGNATURE_MALFORMED',
    );
    expect(refusal(() => verifyLenderEvent({ body, signature: `t=${now}`, secret: SECRET, now }))).toBe(
      'SIGNATURE_MALFORMED',
    );
  });

  it('during a secret rotation, signs with both and accepts either', () => {
    const signature = signedNow(body, ['new-secret', SECRET]);
    expect(signature.split(',v1=')).toHaveLength(3);
    expect(verifyLenderEvent({ body, signature, secret: SECRET, now }).id).toBe(event.id);
    expect(verifyLenderEvent({ body, signature, secret: ['new-secret'], now }).id).toBe(event.id);
  });
});

describe('npm run events (the development receiver)', () => {
  let dir: string;
  let receiver: RunningProcess | undefined;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'events-receiver-'));
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
    const port = await freePort();
    url = `http://127.0.0.1:${port}/lender/events`;
    receiver = startProcess(
      'node',
      [dist('app/eventsMain.js'), '--port', String(port), '--secret-file', join(dir, 'secret')],
      isolatedEnv(),
      dir,
    );
    await receiver.waitFor(/Lender events receiver on/, 30_000);
  }, 60_000);
  afterAll(async () => {
    await receiver?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (payload: string, signature: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [LENDER_EVENT_SIGNATURE_HEADER]: signature },
      body: payload,
    });

  it('prints a verified event (and names a repeat), refuses a tampered body and an old timestamp', async () => {
    const signature = signLenderEvent(body, [SECRET], Date.now() / 1000);
    expect((await post(body, signature)).status).toBe(200);
    await receiver!.waitFor(/✓ 2026-11-28T08:00:00.000Z LOAN1 #1 CONTRACT_SIGNED .*signedTime/);
    expect((await post(body, signature)).status).toBe(200);
    await receiver!.waitFor(/CONTRACT_SIGNED \(again: same id, already applied\)/);

    const tampered = await post(body.replace('LOAN1"', 'LOAN2"'), signature);
    expect(tampered.status).toBe(400);
    expect(await tampered.json()).toEqual({ code: 'SIGNATURE_MISMATCH' });
    await receiver!.waitFor(/✗ refused SIGNATURE_MISMATCH/);

    const old = await post(body, signLenderEvent(body, [SECRET], Date.now() / 1000 - 3600));
    expect(old.status).toBe(400);
    await receiver!.waitFor(/✗ refused TIMESTAMP_OUT_OF_TOLERANCE/);
    expect(receiver!.output().match(/✓ /g)).toHaveLength(2);
  });

  it('refuses to start without a secret', async () => {
    const port = await freePort();
    const bare = startProcess('node', [dist('app/eventsMain.js'), '--port', String(port)], isolatedEnv(), dir);
    expect(await bare.exited).toBe(2);
    expect(bare.output()).toContain('no secret');
  });
});
