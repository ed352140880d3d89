import { generateKeyPairSync, sign as rsaSign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { Wechatpay } from 'wechatpay-axios-plugin';
import {
  createWechatPayClient,
  newNonce,
  responseSignMessage,
  signMessage,
  unixSeconds,
  Verifier,
} from '../src/wechatpay';

/**
 * Signed and verified calls per second of our client and of wechatpay-axios-plugin against the same loopback
 * server, same concurrency, same run; node's raw RSA-2048 signs per second as the ceiling (every call costs
 * one RSA-2048 signature). The server checks nothing and signs its answer once per second (the body never
 * changes), so that its own cost does not dominate what is measured.
 */

const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const TIME_LIMIT_MS = 30_000;
const PATH = '/v3/credit-repayment/partner/schedule-records/R1';
const BODY = JSON.stringify({
  out_record_id: 'R1',
  appid: 'wxcbda96de0b165486',
  contract_id: '20251105000000123456789',
  repayment_amount: '10000',
  min_repayment_amount: '2000',
  repayment_date: '2025-11-08',
  openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
});

const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const MCHID = '1900000109';
const MERCHANT_SERIAL = '3775B6A45ACD588826D15E583A95F5DD00000001';
const PLATFORM_SERIAL = 'PUB_KEY_ID_0114232134912410000000000000001';

function startServer(): Promise<Server> {
  let signedAt = '';
  let headers: Record<string, string> = {};
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const now = unixSeconds();
      if (now !== signedAt) {
        const nonce = newNonce();
        headers = {
          'Content-Type': 'application/json',
          'Wechatpay-Timestamp': now,
          'Wechatpay-Nonce': nonce,
          'Wechatpay-Serial': PLATFORM_SERIAL,
          'Wechatpay-Signature': signMessage(platform.privateKey, responseSignMessage(now, nonce, BODY)),
        };
        signedAt = now;
      }
      res.writeHead(200, headers);
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Runs `call` CALLS times with CONCURRENCY in flight (stopping early at TIME_LIMIT_MS); returns calls/s. */
async function measure(name: string, call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 50; i++) await call(); // warm-up: connections, JIT
  let started = 0;
  let done = 0;
  const deadline = Date.now() + TIME_LIMIT_MS;
  const t0 = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (started < CALLS && Date.now() < deadline) {
      started++;
      await call();
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = done / seconds;
  console.log(`${name}: ${done} calls in ${seconds.toFixed(2)} s = ${rate.toFixed(0)} calls/s`);
  return rate;
}

function rawSignsPerSecond(): number {
  const message = Buffer.from(`GET\n${PATH}\n${unixSeconds()}\n${newNonce()}\n\n`);
  const count = 1000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) rsaSign('sha256', message, merchant.privateKey);
  const rate = count / (Number(process.hrtime.bigint() - t0) / 1e9);
  console.log(`node raw RSA-2048 sign, one thread: ${rate.toFixed(0)} signs/s`);
  return rate;
}

async function main(): Promise<void> {
  const server = await startServer();
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`calls=${CALLS} concurrency=${CONCURRENCY} cpus=${availableParallelism()} node=${process.version}`);
  rawSignsPerSecond();

  const ours = createWechatPayClient({
    merchant: { mchid: MCHID, serialNo: MERCHANT_SERIAL, privateKey: merchant.privateKey },
    verifier: new Verifier({ [PLATFORM_SERIAL]: platform.publicKey }),
    baseUrls: { primary: baseUrl },
  });
  const plugin = new Wechatpay({
    mchid: MCHID,
    serial: MERCHANT_SERIAL,
    privateKey: merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    certs: { [PLATFORM_SERIAL]: platform.publicKey.export({ type: 'spki', format: 'pem' }) },
    baseURL: `${baseUrl}/`,
  } as ConstructorParameters<typeof Wechatpay>[0]);
  const pluginGet = (): Promise<unknown> =>
    plugin.chain(PATH.slice(1)).get({ params: { contract_id: '20251105000000123456789' } });
  const oursGet = (): Promise<unknown> =>
    ours.request({ method: 'GET', path: PATH, query: { contract_id: '20251105000000123456789' } });

  // Each once more before timing, so a broken setup fails loudly instead of measuring errors.
  await pluginGet();
  await oursGet();
  const pluginRate = await measure('wechatpay-axios-plugin 0.9.6', pluginGet);
  const oursRate = await measure('this client (WechatPayHttpClient)', oursGet);

  ours.close();
  server.closeAllConnections();
  server.close();
  console.log(`ratio_vs_wechatpay_axios_plugin=${(oursRate / pluginRate).toFixed(2)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
