import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { WORKFLOW_INTERCEPTORS_MODULE, type Tracing } from './index';
import { wechatpaySpans } from './wechatpaySpans';

/** The OpenTelemetry SDK behind src/tracing, loaded only when tracing is on. */

export interface TracingOptions {
  spanProcessor: SpanProcessor;
  /** service.name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise. */
  serviceName: string;
}

export function createTracing(options: TracingOptions): Tracing {
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': options.serviceName }))
    .merge(envDetectorSync.detect());
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(options.spanProcessor);
  // The interceptors carry context through the global API; a host application that registered its own context
  // manager and propagator keeps them (these calls then change nothing).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const tracer = provider.getTracer('credit-repayment');
  const withTracer = { tracer };
  return {
    tracer,
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor(withTracer)] },
    workerOptions: {
      interceptors: {
        workflowModules: [WORKFLOW_INTERCEPTORS_MODULE],
        activity: [
          (ctx) => ({
            inbound: new OpenTelemetryActivityInboundInterceptor(ctx, withTracer),
            outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
          }),
        ],
      },
      sinks: { exporter: makeWorkflowExporter(options.spanProcessor, resource) },
    },
    wechatpayObserver: wechatpaySpans(tracer),
    // An unreachable collector must never fail the worker or the client: spans are best effort.
    flush: () => provider.forceFlush().catch(() => undefined),
  };
}
