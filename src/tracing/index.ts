import type { Tracer } from '@opentelemetry/api';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { WechatPayAttemptObserver } from '../wechatpay/http';

/**
 * OpenTelemetry tracing through the Temporal SDK's interceptors: the lender client's calls (start, signal, query,
 * update) carry their trace context into the workflow, whose spans (run, start activity, timers…) are exported
 * from the workflow sandbox through a sink, and each activity's span has the WeChat Pay HTTP attempts as children.
 * On when OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set, exporting OTLP http/protobuf with the other
 * standard OTEL_* variables honoured; off otherwise: nothing is installed, workers get no interceptors and the
 * workflow bundle stays as it is.
 */

export const WORKFLOW_INTERCEPTORS_MODULE =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

export interface WorkerTracingOptions {
  interceptors: WorkerInterceptors;
  sinks: InjectedSinks<OpenTelemetrySinks>;
}

export interface Tracing {
  tracer: Tracer;
  /** For the lender client's Client (and anything else that starts or signals lifecycles). */
  clientInterceptors: { workflow: WorkflowClientInterceptor[] };
  /** For Worker.create: activity and workflow interceptors and the sink workflow spans leave the sandbox by. */
  workerOptions: WorkerTracingOptions;
  /** For the WeChat Pay client: a span per HTTP attempt, child of the activity's span. */
  wechatpayObserver: WechatPayAttemptObserver;
  /** Exports what is pending (before a process exits or a test reads its spans). */
  flush(): Promise<void>;
}

let processTracing: Tracing | undefined;

/**
 * The process's tracing when the OTLP endpoint is configured (config.tracing.endpoint), created once: the first
 * caller names the service (the worker, or the lender client's process).
 */
export function tracingFor(endpoint: string | undefined, serviceName: string): Tracing | undefined {
  if (!endpoint) return undefined;
  if (!processTracing) {
    // Required here, not imported: with tracing off no process loads the OpenTelemetry SDK at all.
    const { createTracing } = require('./setup') as typeof import('./setup');
    const { BatchSpanProcessor } =
      require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
    const { OTLPTraceExporter } =
      require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
    processTracing = createTracing({ spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter()), serviceName });
  }
  return processTracing;
}
