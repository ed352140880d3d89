import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { buildListQuery } from '../client/visibilityQuery';
import type { JsonLogger } from './logger';

/**
 * The Prometheus gauge `repayment_lifecycles_in_alert`: running lifecycles whose RepaymentAlert is set, counted from
 * Temporal's visibility (the one place that knows every lifecycle, whichever worker runs it). Every worker may
 * export it; they all report the same number. The workflows' own counters (`repayment_alerts_raised`,
 * `repayment_alerts_cleared`) say what happened; this says what is open now.
 */
export const ALERT_GAUGE_INTERVAL_MS = 60_000;

export function startAlertGauge(
  client: Client,
  meter: MetricMeter,
  logger: JsonLogger,
  intervalMs = ALERT_GAUGE_INTERVAL_MS,
): { stop(): void } {
  const gauge = meter.createGauge(
    'repayment_lifecycles_in_alert',
    'int',
    'lifecycles',
    'Running repayment lifecycles with an alert (RepaymentAlert is set)',
  );
  const query = `${buildListQuery({ inAlert: true })} AND ExecutionStatus = "Running"`;
  let running = false;
  const refresh = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const { count } = await client.workflow.count(query);
      gauge.set(count);
    } catch (error) {
      logger.warn('Could not count lifecycles in alert', { error: (error as Error).message });
    } finally {
      running = false;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
