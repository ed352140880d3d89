import type { EndpointName } from './faults';

/**
 * The `forged` fault (a sandbox invention for chaos runs): the operation is executed, then its answer's body is
 * replaced by a plausible lie under a signature that does not verify. A `tampered` answer still tells the truth, so
 * trusting it leaves no trace; a forged one makes a client that trusts it act on the lie, and carries values no
 * real answer has (FORGED_AMOUNT, FORGED_SIGNED_TIME), so that a checker can find them wherever they went.
 */

/** In fen: no plan of the chaos run asks for it. */
export const FORGED_AMOUNT = '404404404';
export const FORGED_SIGNED_TIME = '2000-01-01T00:00:00+08:00';

type Body = Record<string, unknown>;

export function forgedBody(endpoint: EndpointName | undefined, body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const truth = body as Body;
  switch (endpoint) {
    case 'contract-query':
      // Signed contracts look terminated, unsigned ones look signed.
      return {
        ...truth,
        auth_state: truth.auth_state === 'AUTHORIZED' ? 'UNAUTHORIZED' : 'AUTHORIZED',
        signed_time: FORGED_SIGNED_TIME,
      };
    case 'schedule-query':
      return { ...truth, repayment_amount: FORGED_AMOUNT };
    case 'schedule-create':
      return {
        ...truth,
        schedule_records: ((truth.schedule_records as Body[] | undefined) ?? []).map((record) => ({
          ...record,
          repayment_amount: FORGED_AMOUNT,
        })),
      };
    case 'compensation-query':
      return { ...truth, amount: Number(FORGED_AMOUNT), state: 'SUCCESS' };
    case 'terminate':
      return {
        contract_info: {
          ...((truth.contract_info as Body | undefined) ?? {}),
          contract_state: 'CONTRACT_STATE_EFFECTIVE',
        },
      };
    default:
      return truth;
  }
}
