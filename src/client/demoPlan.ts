import { shanghaiDateOf, shanghaiMidnight } from '../domain/calendar';
import type { RepaymentPlanInput } from '../domain/plan';

export interface DemoPlanOptions {
  outContractCode?: string;
  installments?: number;
  signature?: 'poll' | 'signal' | 'none';
  now?: number;
}

/**
 * An example plan to try the service with: monthly installments of 1000.00 CNY on the 10th, from next month
 * (Asia/Shanghai), so every date is valid and in the future. The default contract code is derived from the
 * current second, so that repeated demos do not collide with the lifecycle of an earlier one.
 */
export function demoPlan(options: DemoPlanOptions = {}): RepaymentPlanInput {
  const now = options.now ?? Date.now();
  const today = shanghaiDateOf(now);
  const code = options.outContractCode ?? `DEMO${shanghaiStamp(now)}`;
  const count = options.installments ?? 12;
  const [year, month] = [Number(today.slice(0, 4)), Number(today.slice(5, 7))];
  return {
    outContractCode: code,
    contractId: `WXC${code}`,
    appid: 'wxd678efh567hg6787',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    signature: { mode: options.signature ?? 'poll' },
    installments: Array.from({ length: count }, (_, i) => {
      const monthIndex = month + i; // month is 1-based, so this is next month + i, 0-based
      const date = `${year + Math.floor(monthIndex / 12)}-${String((monthIndex % 12) + 1).padStart(2, '0')}-10`;
      return {
        repaymentAmount: '100000',
        minRepaymentAmount: '10000',
        repaymentDate: date,
        description: `Installment ${i + 1} of ${count}`,
      };
    }),
  };
}

/** `yyyymmddHHMMSS` in Asia/Shanghai. */
function shanghaiStamp(now: number): string {
  const today = shanghaiDateOf(now);
  const time = new Date(now - shanghaiMidnight(today)).toISOString().slice(11, 19).replace(/:/g, '');
  return `${today.replace(/-/g, '')}${time}`;
}
