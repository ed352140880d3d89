/** The workflows the worker registers (workflowsPath points here). */
export { repaymentLifecycle } from './repaymentLifecycle';
export { compensationBillTracker } from './compensationBillTracker';
