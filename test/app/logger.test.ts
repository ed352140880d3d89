import { generateKeyPairSync } from 'node:crypto';
import { JsonLogger } from '../../src/app/logger';

function capture(level: 'DEBUG' | 'INFO' = 'INFO'): { logger: JsonLogger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new JsonLogger(level, (line) => lines.push(line)), lines };
}

describe('JsonLogger', () => {
  it('writes one JSON object per line with time, level, message and metadata', () => {
    const { logger, lines } = capture();
    logger.child({ component: 'worker' }).info('Worker running', { taskQueue: 'credit-repayment', attempt: 2n });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'INFO',
      message: 'Worker running',
      component: 'worker',
      taskQueue: 'credit-repayment',
      attempt: '2',
    });
    expect(Date.parse(entry.time as string)).not.toBeNaN();
  });

  it('drops entries below its level', () => {
    const { logger, lines } = capture('INFO');
    logger.debug('noise');
    expect(lines).toHaveLength(0);
  });

  it('never writes keys, Authorization headers or openids, at any depth or inside messages', () => {
    const { logger, lines } = capture();
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const auth = 'WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="abc",signature="c2lnbmF0dXJl"';
    logger.error(`request failed with ${auth}`, {
      request: { headers: { Authorization: auth, Accept: 'application/json' }, openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      config: { privateKey: pem, apiKey: 'tk-123' },
      note: `key was ${pem}`,
      error: Object.assign(new Error(`boom ${auth}`), { signature: 'c2lnbmF0dXJl' }),
    });
    const text = lines.join('\n');
    for (const secret of ['BEGIN PRIVATE KEY', 'c2lnbmF0dXJl', 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', 'tk-123', 'nonce_str']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('application/json');
    expect(text).toContain('[REDACTED]');
  });

  it('cuts a very long message to one readable line', () => {
    const { logger, lines } = capture();
    logger.info('x'.repeat(10_000));
    expect((JSON.parse(lines[0]!) as { message: string }).message).toMatch(/^x{1000}… \(10000 chars\)$/);
  });
});
