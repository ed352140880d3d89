import { sleep, upsertSearchAttributes } from '@temporalio/workflow';
import { OutContractCode, RepaymentPhase } from '../../src/domain/searchAttributes';

/** Workflows that prove the harness itself: nothing of the product is in here. */

export async function sleepFor(days: number): Promise<string> {
  await sleep(`${days} days`);
  return `slept ${days} days`;
}

export async function tagged(code: string): Promise<void> {
  upsertSearchAttributes([
    { key: RepaymentPhase, value: 'MONITORING' },
    { key: OutContractCode, value: code },
  ]);
  await sleep('1 hour');
}

export async function echo(value: string): Promise<string> {
  return value;
}
