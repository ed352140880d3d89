import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ENCRYPTED_ENCODING, PayloadEncryptionCodec } from '../../src/codec/payloadEncryption';
import { startCodecServer, type RunningCodecServer } from '../../src/codec/server';

/** The codec server over real HTTP on loopback: the protocol, CORS for the Web UI only, and bearer tokens. */

const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';
const UI = 'http://127.0.0.1:8233';
const TOKEN = 'codec-token-0123456789abcdef';
const codec = new PayloadEncryptionCodec(new Map([['k1', randomBytes(32)]]), 'k1');

let open: RunningCodecServer;
let guarded: RunningCodecServer;

beforeAll(async () => {
  open = await startCodecServer({ codec, host: '127.0.0.1', port: 0, allowedOrigins: [UI] });
  guarded = await startCodecServer({ codec, host: '127.0.0.1', port: 0, allowedOrigins: [UI], tokens: [TOKEN] });
});

afterAll(async () => {
  await open?.close();
  await guarded?.close();
});

function json(payload: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

it('decodes what the worker encrypted and encrypts what the UI sends, in proto JSON', async () => {
  const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ openid: OPENID })]);
  const decoded = await post(`${open.url}/decode`, { payloads: [json(sealed!)] });
  expect(decoded.status).toBe(200);
  const { payloads } = (await decoded.json()) as {
    payloads: Array<{ metadata: Record<string, string>; data: string }>;
  };
  expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
  expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual({ openid: OPENID });

  // The CLI's templated endpoint puts the namespace in the path.
  const encoded = await post(`${open.url}/default/encode`, { payloads });
  expect(encoded.status).toBe(200);
  const [again] = ((await encoded.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> })
    .payloads;
  expect(Buffer.from(again!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
  expect(Buffer.from(again!.data, 'base64').toString('latin1')).not.toContain(OPENID);
  const roundTrip = await codec.decode([
    {
      metadata: Object.fromEntries(Object.entries(again!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      data: Buffer.from(again!.data, 'base64'),
    },
  ]);
  expect(defaultPayloadConverter.fromPayload(roundTrip[0]!)).toEqual({ openid: OPENID });
});

it('answers the Web UI preflight for its origin only, with the headers the UI sends', async () => {
  const preflight = await fetch(`${open.url}/decode`, {
    method: 'OPTIONS',
    headers: {
      Origin: UI,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,x-namespace',
    },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
  expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
  expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
  const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase();
  for (const header of ['content-type', 'x-namespace', 'authorization']) expect(allowed).toContain(header);

  const fromUi = await post(`${open.url}/decode`, { payloads: [] }, { Origin: UI });
  expect(fromUi.status).toBe(200);
  expect(fromUi.headers.get('access-control-allow-origin')).toBe(UI);

  for (const method of ['OPTIONS', 'POST']) {
    const foreign = await fetch(`${open.url}/decode`, {
      method,
      headers: { Origin: 'http://evil.example', 'Content-Type': 'application/json' },
      ...(method === 'POST' ? { body: '{"payloads":[]}' } : {}),
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  }
});

it('requires the bearer token when configured, on POST but not on the preflight', async () => {
  const body = { payloads: [] };
  expect((await post(`${guarded.url}/decode`, body)).status).toBe(401);
  expect((await post(`${guarded.url}/decode`, body, { Authorization: 'Bearer wrong-token-0123456789' })).status).toBe(
    401,
  );
  expect((await post(`${guarded.url}/decode`, body, { Authorization: TOKEN })).status).toBe(401);
  expect((await post(`${guarded.url}/decode`, body, { Authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  const preflight = await fetch(`${guarded.url}/decode`, { method: 'OPTIONS', headers: { Origin: UI } });
  expect(preflight.status).toBe(204);
});

it('takes {} as no payloads: proto JSON leaves an empty list out (the temporal CLI, a query without input)', async () => {
  const none = await post(`${open.url}/encode`, {});
  expect(none.status).toBe(200);
  expect(await none.json()).toEqual({ payloads: [] });
});

it('refuses what is not the protocol, without echoing payloads', async () => {
  expect((await fetch(`${open.url}/decode`)).status).toBe(405);
  expect((await post(`${open.url}/a/b/decode`, { payloads: [] })).status).toBe(404);
  expect((await post(`${open.url}/decode`, 'not json')).status).toBe(400);
  expect((await post(`${open.url}/decode`, { payload: [] })).status).toBe(400);
  expect((await post(`${open.url}/decode`, { payloads: [{ metadata: { encoding: 1 } }] })).status).toBe(400);

  // Another key's ciphertext: 400 naming the key id, and nothing of the payload in the answer.
  const other = new PayloadEncryptionCodec(new Map([['k9', randomBytes(32)]]), 'k9');
  const [foreign] = await other.encode([defaultPayloadConverter.toPayload(OPENID)]);
  const refused = await post(`${open.url}/decode`, { payloads: [json(foreign!)] });
  expect(refused.status).toBe(400);
  const text = await refused.text();
  expect(text).toContain('k9');
  expect(text).not.toContain(json(foreign!).data.slice(0, 16));
});
