import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ENCRYPTED_ENCODING, PayloadDecryptionError, PayloadEncryptionCodec } from '../../src/codec/payloadEncryption';
import { LifecycleConflictError } from '../../src/client/errors';
import { RepaymentClient } from '../../src/client/lenderClient';
import { ConfigError, loadConfig } from '../../src/config/load';
import { nearPlan } from '../e2e/support';
import { createTimeSkippingEnv } from '../harness/temporal';
import { echo } from '../harness/workflows';

const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';
const plain = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);

describe('PayloadEncryptionCodec', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  it('round-trips a payload and hides its bytes, with a fresh IV each time', async () => {
    const codec = new PayloadEncryptionCodec(new Map([['k1', oldKey]]), 'k1');
    const [a] = await codec.encode([plain({ openid: OPENID })]);
    const [b] = await codec.encode([plain({ openid: OPENID })]);
    expect(Buffer.from(a!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(a!.data!).toString('latin1')).not.toContain(OPENID);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    const [decoded] = await codec.decode([a!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ openid: OPENID });
  });

  it('decodes payloads of a previous key after a rotation, and encodes with the current one', async () => {
    const before = new PayloadEncryptionCodec(new Map([['k1', oldKey]]), 'k1');
    const after = new PayloadEncryptionCodec(
      new Map([
        ['k2', newKey],
        ['k1', oldKey],
      ]),
      'k2',
    );
    const [old] = await before.encode([plain('x')]);
    expect(defaultPayloadConverter.fromPayload((await after.decode([old!]))[0]!)).toBe('x');
    const [fresh] = await after.encode([plain('y')]);
    expect(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString()).toBe('k2');
    await expect(before.decode([fresh!])).rejects.toThrow(PayloadDecryptionError);
  });

  it('refuses a tampered payload and passes unencrypted ones through', async () => {
    const codec = new PayloadEncryptionCodec(new Map([['k1', oldKey]]), 'k1');
    const [sealed] = await codec.encode([plain('x')]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow(/failed authentication/);
    const unencrypted = plain('clear');
    expect(await codec.decode([unencrypted])).toEqual([unencrypted]);
  });

  it('is configured from temporal.yaml, and a key of the wrong size is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'codec-'));
    writeFileSync(join(dir, 'payload.key'), randomBytes(32).toString('base64'));
    writeFileSync(join(dir, 'short.key'), randomBytes(16).toString('base64'));
    const env = { TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') };
    const write = (keyFile: string): string => {
      const file = join(dir, 'temporal.yaml');
      writeFileSync(file, `temporal:\n  payloadEncryption:\n    keyId: k1\n    keyFile: ${keyFile}\n`);
      return file;
    };
    expect(loadConfig({ file: write('payload.key'), env }).temporal.dataConverter?.payloadCodecs).toHaveLength(1);
    expect(() => loadConfig({ file: write('short.key'), env })).toThrow(ConfigError);
    expect(() => loadConfig({ file: write('short.key'), env })).toThrow(/temporal\.payloadEncryption\.keyFile/);
  });
});

describe('payload encryption on a real server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
  });

  it('keeps workflow input and result out of the server history in clear, while client and worker see them', async () => {
    const dataConverter = { payloadCodecs: [new PayloadEncryptionCodec(new Map([['k1', randomBytes(32)]]), 'k1')] };
    const client = new Client({ connection: env.connection, namespace: env.namespace ?? 'default', dataConverter });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'codec',
      workflowsPath: require.resolve('../harness/workflows'),
      dataConverter,
    });
    const result = await worker.runUntil(
      client.workflow.execute(echo, { taskQueue: 'codec', workflowId: 'codec-echo', args: [`plan for ${OPENID}`] }),
    );
    expect(result).toBe(`plan for ${OPENID}`);

    const { history } = await env.client.workflowService.getWorkflowExecutionHistory({
      namespace: env.namespace ?? 'default',
      execution: { workflowId: 'codec-echo' },
    });
    const events = history?.events ?? [];
    const payloads = [
      ...(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
      ...(events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads ?? []),
    ];
    expect(payloads).toHaveLength(2);
    for (const payload of payloads) {
      expect(Buffer.from(payload.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(payload.data!).toString('latin1')).not.toContain(OPENID);
    }
  }, 120_000);

  it('keeps the lender client idempotent when the stored plan is encrypted', async () => {
    const dataConverter = { payloadCodecs: [new PayloadEncryptionCodec(new Map([['k1', randomBytes(32)]]), 'k1')] };
    const temporal = new Client({ connection: env.connection, namespace: env.namespace ?? 'default', dataConverter });
    const client = new RepaymentClient(temporal, {
      taskQueue: 'codec-lifecycle',
      compensationTaskQueue: 'codec-bills',
    });
    const plan = nearPlan('CODECIDEM1', [3]);
    await expect(client.startLifecycle(plan)).resolves.toMatchObject({ alreadyStarted: false });
    await expect(client.startLifecycle(plan)).resolves.toMatchObject({ alreadyStarted: true });
    await expect(
      client.startLifecycle({ ...plan, installments: [{ ...plan.installments[0]!, repaymentAmount: '60000' }] }),
    ).rejects.toBeInstanceOf(LifecycleConflictError);
    await temporal.workflow.getHandle('repayment-CODECIDEM1').terminate('test done');
  }, 60_000);
});
