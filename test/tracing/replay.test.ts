import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { bundleWorkflowCode, Runtime, Worker } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTORS_MODULE } from '../../src/tracing';
import { createTracing } from '../../src/tracing/setup';
// For its side effect: the SDK's runtime logs at WARN in tests.
import '../harness/temporal';
import { loadRecordedHistories } from '../lifecycle/recordHistory';

/**
 * Turning tracing on for a worker whose lifecycles started without it must not break them: every committed
 * history (recorded without the interceptors) replays against a bundle that has the OpenTelemetry workflow
 * interceptors and the span sink, as a worker with OTEL_EXPORTER_OTLP_ENDPOINT set builds it.
 */

it('replays the recorded histories with the tracing interceptors in the bundle', async () => {
  const histories = loadRecordedHistories();
  expect(histories.length).toBeGreaterThan(0);
  const tracing = createTracing({
    spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()),
    serviceName: 'replay',
  });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_MODULE],
    logger: Runtime.instance().logger,
  });
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowBundle, sinks: tracing.workerOptions.sinks },
    histories,
  )) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(histories.length);
}, 90_000);
