import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { WechatPayAttemptObserver } from '../wechatpay/http';

/**
 * One CLIENT span per WeChat Pay HTTP attempt (a failover shows as two), child of whatever span is active: the
 * activity's, under the Temporal interceptors. Attributes are what an operator needs to find the call at WeChat
 * Pay (method, path template, status, Request-ID, the domain that answered, the error code) and nothing else: no
 * body, no query, no path parameter, no header, no error message (answers may echo request fields).
 */

/**
 * The endpoints this project calls, path parameters named. First match wins (batch-create before the record id);
 * a parameter matches one path segment.
 */
const TEMPLATES = [
  '/v3/credit-repayment/partner/schedule-records/batch-create',
  '/v3/credit-repayment/partner/schedule-records/{out_record_id}',
  '/v3/credit-repayment/partner/contracts/terminate',
  '/v3/ecommerce/individual-contracts/out-contract-code/{out_contract_code}',
  '/v3/platsolution/ecommerce/mch-transfer/compensate-bills/out-bill-no/{out_bill_no}',
  '/v3/certificates',
];
const ROUTES = TEMPLATES.map((t) => [new RegExp(`^${t.replace(/\{[a-z_]+\}/g, '[^/]+')}$`), t] as const);

export const UNLISTED_PATH = '/v3/{unlisted}';

/** The path template of a request path (query stripped), e.g. `/v3/credit-repayment/partner/schedule-records/{out_record_id}`. */
export function pathTemplate(url: string): string {
  const path = url.split('?')[0] ?? '';
  return ROUTES.find(([pattern]) => pattern.test(path))?.[1] ?? UNLISTED_PATH;
}

export function wechatpaySpans(tracer: Tracer): WechatPayAttemptObserver {
  return {
    observe(attempt, send) {
      const template = pathTemplate(attempt.url);
      const attributes = {
        'http.request.method': attempt.method,
        'url.template': template,
        'server.address': new URL(attempt.baseUrl).host,
      };
      return tracer.startActiveSpan(
        `${attempt.method} ${template}`,
        { kind: SpanKind.CLIENT, attributes },
        async (span) => {
          try {
            const answer = await send();
            span.setAttribute('http.response.status_code', answer.httpStatus);
            if (answer.requestId) span.setAttribute('wechatpay.request_id', answer.requestId);
            return answer;
          } catch (err) {
            const { code, httpStatus, requestId } = err as {
              code?: unknown;
              httpStatus?: unknown;
              requestId?: unknown;
            };
            if (typeof httpStatus === 'number' && httpStatus > 0)
              span.setAttribute('http.response.status_code', httpStatus);
            if (typeof requestId === 'string') span.setAttribute('wechatpay.request_id', requestId);
            const errorType = typeof code === 'string' ? code : 'UNKNOWN';
            span.setAttribute('error.type', errorType);
            span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
            throw err;
          } finally {
            span.end();
          }
        },
      );
    },
  };
}
