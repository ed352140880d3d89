import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { WechatPaySectionSchema } from '../../src/config/schema';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { SandboxControlClient } from '../../src/sandbox/controlClient';
import { aeadDecrypt } from '../../src/wechatpay/aead';
import { Verifier } from '../../src/wechatpay/verifier';
import { authorizedContract, signedRequest, tempDataDir, type RawAnswer } from './signedRequest';

/** The sandbox's platform certificates: GET /v3/certificates, the APIv3 key, rotation over the control API. */

const dataDir = tempDataDir();
let sandbox: Sandbox;
let control: SandboxControlClient;

const download = (serial?: string): Promise<RawAnswer> =>
  signedRequest(sandbox, {
    path: '/v3/certificates',
    ...(serial === undefined ? {} : { headers: { 'Wechatpay-Serial': serial } }),
  });

/** The certificates of a download, opened with the sandbox's APIv3 key. */
function opened(answer: RawAnswer): Array<{ serial: string; x509: X509Certificate; expireTime: string }> {
  const key = readFileSync(sandbox.apiV3KeyPath);
  const items = answer.json.data as Array<{
    serial_no: string;
    expire_time: string;
    encrypt_certificate: { algorithm: string; nonce: string; associated_data: string; ciphertext: string };
  }>;
  return items.map((item) => {
    const sealed = item.encrypt_certificate;
    expect(sealed.algorithm).toBe('AEAD_AES_256_GCM');
    const pem = aeadDecrypt(key, {
      ciphertext: sealed.ciphertext,
      nonce: sealed.nonce,
      associatedData: sealed.associated_data,
    });
    return { serial: item.serial_no, x509: new X509Certificate(pem), expireTime: item.expire_time };
  });
}

/** Verifies an answer with the certificate it names, and returns that serial. */
function signerOf(answer: RawAnswer): string {
  const serial = String(answer.headers['wechatpay-serial']);
  const cert = sandbox.platformCertificates.find((c) => c.serial === serial);
  if (!cert) throw new Error(`the answer names ${serial}, not a sandbox certificate`);
  const key = new X509Certificate(readFileSync(cert.certificatePath)).publicKey;
  new Verifier(new Map([[serial, key]])).verify(answer.headers, answer.text);
  return serial;
}

beforeAll(async () => {
  sandbox = await startSandbox({ dataDir, persist: true });
  control = new SandboxControlClient(sandbox.primaryUrl);
});
afterAll(() => sandbox.close());

describe('GET /v3/certificates', () => {
  it('is authenticated like every APIv3 endpoint', async () => {
    const answer = await signedRequest(sandbox, { path: '/v3/certificates', unsigned: true });
    expect([answer.status, answer.json.code]).toEqual([401, 'SIGN_ERROR']);
  });

  it('lists real self-signed X.509 certificates sealed with the APIv3 key, signed by the signing certificate', async () => {
    expect(readFileSync(sandbox.apiV3KeyPath, 'utf8')).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(statSync(sandbox.apiV3KeyPath).mode & 0o777).toBe(0o600);
    const answer = await download();
    expect(answer.status).toBe(200);
    const [first] = opened(answer);
    const [only] = sandbox.platformCertificates;
    expect(first?.serial).toBe(only?.serial);
    expect(first?.x509.serialNumber).toBe(only?.serial);
    expect(first?.x509.verify(first.x509.publicKey)).toBe(true); // self-signed
    expect(first?.x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(first?.expireTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(signerOf(answer)).toBe(only?.serial);
    expect(answer.text).not.toContain('BEGIN CERTIFICATE');
  });

  it('after a rotation: lists both, signs other answers with the new one, the download with the one requested', async () => {
    const [old] = sandbox.platformCertificates;
    const rotated = await control.addPlatformCertificate();
    expect(rotated).toMatchObject({ signing: true });
    expect((await control.listPlatformCertificates()).map((c) => [c.serial, c.signing])).toEqual([
      [old?.serial, false],
      [rotated.serial, true],
    ]);
    expect(opened(await download()).map((c) => c.serial)).toEqual([old?.serial, rotated.serial]);

    // A client still naming the old certificate gets the download signed with it (it can verify that) …
    expect(signerOf(await download(old?.serial))).toBe(old?.serial);
    // … and every other answer signed with the new one (it cannot, until it has downloaded it).
    await authorizedContract(sandbox, 'CERT1');
    const query = await signedRequest(sandbox, {
      path: '/v3/ecommerce/individual-contracts/out-contract-code/CERT1?appid=wxd678efh567hg6787',
      headers: { 'Wechatpay-Serial': old?.serial ?? '' },
    });
    expect([query.status, signerOf(query)]).toEqual([200, rotated.serial]);

    // Public-key mode is untouched: a request naming an active PUB_KEY_ID gets an answer signed with it.
    const [publicKey] = sandbox.platformKeys;
    const keyed = await signedRequest(sandbox, {
      path: '/v3/ecommerce/individual-contracts/out-contract-code/CERT1?appid=wxd678efh567hg6787',
      headers: { 'Wechatpay-Serial': publicKey?.id ?? '' },
    });
    expect(keyed.headers['wechatpay-serial']).toBe(publicKey?.id);

    expect((await control.useCertificateForSigning(old?.serial ?? '')).signing).toBe(true);
    expect(signerOf(await download())).toBe(old?.serial);
  });

  it('does not list an expired certificate, and refuses bad rotation input naming the field', async () => {
    const day = 24 * 3_600_000;
    const expired = await control.addPlatformCertificate({
      notBefore: new Date(Date.now() - 3 * day).toISOString(),
      notAfter: new Date(Date.now() - day).toISOString(),
      signing: false,
    });
    expect(opened(await download()).map((c) => c.serial)).not.toContain(expired.serial);
    await expect(control.addPlatformCertificate({ notAfter: 'tomorrow' })).rejects.toMatchObject({
      httpStatus: 400,
      detail: { field: 'notAfter' },
    });
    await expect(control.addPlatformCertificate({ signing: 'yes' as never })).rejects.toMatchObject({
      detail: { field: 'signing' },
    });
    await expect(control.useCertificateForSigning('NOSUCHSERIAL')).rejects.toMatchObject({ httpStatus: 404 });
  });

  it('keeps certificates, the signing choice and the APIv3 key across a restart', async () => {
    const before = sandbox.platformCertificates;
    const key = readFileSync(sandbox.apiV3KeyPath, 'utf8');
    await sandbox.close();
    sandbox = await startSandbox({ dataDir, persist: true });
    control = new SandboxControlClient(sandbox.primaryUrl);
    expect(sandbox.platformCertificates).toEqual(before);
    expect(readFileSync(sandbox.apiV3KeyPath, 'utf8')).toBe(key);
  });

  it('puts the APIv3 key file (a path, never the key) in the config snippet', () => {
    const snippet = sandbox.configSnippet();
    const section = WechatPaySectionSchema.parse((parseYaml(snippet) as { wechatpay: unknown }).wechatpay);
    expect(section.apiV3KeyFile).toBe(sandbox.apiV3KeyPath);
    expect(snippet).not.toContain(readFileSync(sandbox.apiV3KeyPath, 'utf8'));
  });
});
