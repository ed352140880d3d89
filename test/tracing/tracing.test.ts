import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { connectRepaymentClient, type ConnectedRepaymentClient } from '../../src/client/lenderClient';
import { loadConfig } from '../../src/config/load';
import type { LifecycleStatus } from '../../src/domain/status';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { tracingFor } from '../../src/tracing';
import { createTracing } from '../../src/tracing/setup';
import { pathTemplate } from '../../src/tracing/wechatpaySpans';
import { createWorkers, runWorkersUntil } from '../../src/worker';
import { nearPlan, registerContract } from '../e2e/support';
import { waitUntil } from '../e2e/processes';
import { wechatpayClientFor } from '../harness/sandboxClient';
import { createTimeSkippingEnv } from '../harness/temporal';

/**
 * Tracing through the SDK's interceptors on a real lifecycle: the lender client (connectRepaymentClient), a real
 * worker (createWorkers, workflow bundle built with the interceptors) on the time-skipping server, the sandbox over
 * HTTP. Spans go to an in-memory exporter; the test follows one trace from the lender's own span down to the
 * WeChat Pay HTTP attempts and checks that no span carries the openid or an Authorization header.
 */

const exporter = new InMemorySpanExporter();
const tracing = createTracing({ spanProcessor: new SimpleSpanProcessor(exporter), serviceName: 'tracing-test' });

let env: TestWorkflowEnvironment;
let sandbox: Sandbox;
let repayment: ConnectedRepaymentClient;
let dir: string;
let stopWorkers: () => void;
let workersDone: Promise<void>;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  dir = mkdtempSync(join(tmpdir(), 'tracing-'));
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox'), businessClock: () => env.currentTimeMs() });
  const wechatpay = wechatpayClientFor(sandbox, { observer: tracing.wechatpayObserver });
  const workers: Worker[] = await createWorkers({
    connection: env.nativeConnection,
    taskQueue: 'tracing',
    compensationTaskQueue: 'tracing-compensation',
    activities: createActivities({ wechatpay }),
    // Bundled by the worker so that the workflow interceptors of tracing.workerOptions are in the bundle.
    workflowsPath: require.resolve('../../src/workflows'),
    tracing: tracing.workerOptions,
  });
  workersDone = runWorkersUntil(workers, new Promise<void>((resolve) => (stopWorkers = resolve)));
  const file = join(dir, 'temporal.yaml');
  writeFileSync(
    file,
    `temporal:\n  address: ${env.connection.options.address}\n  taskQueue: tracing\n` +
      '  compensationTaskQueue: tracing-compensation\n',
  );
  repayment = await connectRepaymentClient(loadConfig({ file, env: { TEMPORAL_CONFIG_FILE: join(dir, 'x.toml') } }), {
    tracing,
  });
}, 180_000);

afterAll(async () => {
  stopWorkers?.();
  await workersDone;
  await repayment?.close();
  await sandbox?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

const named = (spans: ReadableSpan[], name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
const only = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = named(spans, name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanId;

it('follows one trace from the lender through the workflow and the activity to each WeChat Pay attempt', async () => {
  const plan = nearPlan('TRACE1', [3]);
  await registerContract(sandbox, plan);
  // The first create attempt meets a 500 on the primary; the client fails over to the backup.
  await sandbox.control.injectFault({ endpoint: 'schedule-create', kind: 500, count: 1 });

  const lenderSpan = await tracing.tracer.startActiveSpan('lender: loan approved', async (span) => {
    await repayment.client.startLifecycle(plan);
    span.end();
    return span;
  });
  await waitUntil(async () => {
    const status: LifecycleStatus = await repayment.client.getStatus('TRACE1');
    return status.installments[0]?.state === 'SCHEDULED' ? true : undefined;
  }, 'TRACE1 scheduled');
  await repayment.client.cancel('TRACE1', 'tracing test over');
  await repayment.client.temporal.workflow.getHandle('repayment-TRACE1').result();

  const create = 'POST /v3/credit-repayment/partner/schedule-records/batch-create';
  const spans = await waitUntil(async () => {
    await tracing.flush();
    const all = exporter.getFinishedSpans();
    const done = ['RunWorkflow:repaymentLifecycle', 'RunActivity:terminateContract'].every((n) => named(all, n).length);
    return done && named(all, create).length === 2 ? all : undefined;
  }, 'the lifecycle spans');

  const traceId = lenderSpan.spanContext().traceId;
  const start = only(spans, 'StartWorkflow:repaymentLifecycle');
  const run = only(spans, 'RunWorkflow:repaymentLifecycle');
  const startActivity = only(spans, 'StartActivity:createScheduleRecord');
  const runActivity = only(spans, 'RunActivity:createScheduleRecord');
  const attempts = named(spans, create).sort(
    (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
  );
  for (const span of [start, run, startActivity, runActivity, ...attempts])
    expect(span.spanContext().traceId).toBe(traceId);
  expect(parentOf(start)).toBe(lenderSpan.spanContext().spanId);
  expect(parentOf(run)).toBe(start.spanContext().spanId);
  expect(parentOf(startActivity)).toBe(run.spanContext().spanId);
  expect(parentOf(runActivity)).toBe(startActivity.spanContext().spanId);

  // Both HTTP attempts are children of the activity's span: the 500 on the primary, then the backup's 200.
  const [failed, succeeded] = attempts;
  const host = (url: string): string => new URL(url).host;
  for (const attempt of attempts) {
    expect(parentOf(attempt)).toBe(runActivity.spanContext().spanId);
    expect(attempt.kind).toBe(2); // SpanKind.CLIENT
    expect(attempt.attributes['http.request.method']).toBe('POST');
    expect(attempt.attributes['url.template']).toBe('/v3/credit-repayment/partner/schedule-records/batch-create');
    expect(attempt.attributes['wechatpay.request_id']).toEqual(expect.any(String));
  }
  expect(failed!.attributes).toMatchObject({
    'http.response.status_code': 500,
    'server.address': host(sandbox.primaryUrl),
  });
  expect(failed!.attributes['error.type']).toEqual(expect.any(String));
  expect(failed!.status.code).toBe(2); // SpanStatusCode.ERROR
  expect(succeeded!.attributes).toMatchObject({
    'http.response.status_code': 200,
    'server.address': host(sandbox.backupUrl),
  });
  expect(succeeded!.attributes['error.type']).toBeUndefined();

  // The termination at cancel is traced the same way.
  const terminate = only(spans, 'RunActivity:terminateContract');
  const terminateCall = only(spans, 'POST /v3/credit-repayment/partner/contracts/terminate');
  expect(parentOf(terminateCall)).toBe(terminate.spanContext().spanId);

  // Nothing personal or secret in any span: attributes, events (recorded exceptions) or names.
  const text = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
  expect(text).not.toContain(plan.openid);
  expect(text).not.toMatch(/WECHATPAY2-SHA256|authorization/i);
  for (const span of spans) {
    for (const key of Object.keys(span.attributes)) expect(key).not.toMatch(/openid|authorization|body|header/i);
  }
  expect(spans[0]!.resource.attributes['service.name']).toBe('tracing-test');
}, 120_000);

it('names each WeChat Pay path by its template, never by its parameters', () => {
  expect(pathTemplate('/v3/credit-repayment/partner/schedule-records/R123?contract_id=WXC1')).toBe(
    '/v3/credit-repayment/partner/schedule-records/{out_record_id}',
  );
  expect(pathTemplate('/v3/ecommerce/individual-contracts/out-contract-code/LOAN1?appid=wx1')).toBe(
    '/v3/ecommerce/individual-contracts/out-contract-code/{out_contract_code}',
  );
  expect(pathTemplate('/v3/platsolution/ecommerce/mch-transfer/compensate-bills/out-bill-no/plfk1')).toBe(
    '/v3/platsolution/ecommerce/mch-transfer/compensate-bills/out-bill-no/{out_bill_no}',
  );
  expect(pathTemplate('/v3/something/else/oUpF8uMuAJO')).toBe('/v3/{unlisted}');
});

it('is off unless the OTLP endpoint variable is set', () => {
  const base = { TEMPORAL_CONFIG_FILE: join(tmpdir(), 'no-such.toml') };
  const off = loadConfig({ cwd: dir, env: base });
  expect(off.tracing.endpoint).toBeUndefined();
  expect(tracingFor(off.tracing.endpoint, 'x')).toBeUndefined();
  const on = loadConfig({ cwd: dir, env: { ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' } });
  expect(on.tracing.endpoint).toBe('http://127.0.0.1:4318');
  expect(on.choices.join('\n')).toContain('tracing: OpenTelemetry spans to http://127.0.0.1:4318');
});

it('exports OTLP http/protobuf to the endpoint the standard variable names', async () => {
  const received: Array<{ path?: string; type?: string; bytes: number }> = [];
  const collector = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      received.push({ path: req.url, type: req.headers['content-type'], bytes });
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  // The exporter reads the variable itself, as in a real process.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  try {
    const processTracing = tracingFor(endpoint, 'otlp-test')!;
    expect(tracingFor(endpoint, 'another name')).toBe(processTracing);
    processTracing.tracer.startSpan('one span').end();
    await processTracing.flush();
    expect(received).toEqual([{ path: '/v1/traces', type: 'application/x-protobuf', bytes: expect.any(Number) }]);
    expect(received[0]!.bytes).toBeGreaterThan(0);
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise((resolve) => collector.close(resolve));
  }
});
