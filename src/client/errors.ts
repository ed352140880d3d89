import { PlanValidationError, type PlanIssue } from '../domain/plan';

/**
 * Errors of the lender's client. Invalid input of any operation (plan, signal payload, list filter) is a
 * PlanValidationError from the domain, whose message names each field and its rule.
 */
export { PlanValidationError, type PlanIssue };

/** No lifecycle (or no running one, for signals) exists for the contract. */
export class LifecycleNotFoundError extends Error {
  override readonly name = 'LifecycleNotFoundError';
  readonly code = 'LIFECYCLE_NOT_FOUND';
  readonly retryable = false;
  constructor(
    readonly outContractCode: string,
    readonly workflowId: string,
    detail = 'no lifecycle',
  ) {
    super(`${detail} for contract ${outContractCode} (workflow id ${workflowId})`);
  }
}

/** A lifecycle for the contract already exists with a different plan; a contract has at most one lifecycle. */
export class LifecycleConflictError extends Error {
  override readonly name = 'LifecycleConflictError';
  readonly code = 'LIFECYCLE_CONFLICT';
  readonly retryable = false;
  constructor(
    readonly outContractCode: string,
    readonly workflowId: string,
    /** Paths where the existing plan and the new one differ (first few). */
    readonly differences: string[],
  ) {
    super(
      `a lifecycle for contract ${outContractCode} already exists (workflow id ${workflowId}) with a different plan` +
        (differences.length > 0 ? `; differs at ${differences.join(', ')}` : ''),
    );
  }
}

/** The lifecycle refused a plan change for a reason that is not a field of the input (e.g. it is stopping). */
export class ModificationRejectedError extends Error {
  override readonly name = 'ModificationRejectedError';
  readonly code = 'MODIFICATION_REJECTED';
  readonly retryable = false;
  constructor(
    readonly outContractCode: string,
    reason: string,
  ) {
    super(`plan change for contract ${outContractCode} rejected: ${reason}`);
  }
}
