import type { AppConfig } from '../config/load';

/**
 * The commands that `npm start` and `npm run demo` print. Each runs as printed from the project directory: the
 * `temporal` CLI through `npm run temporal --`, which points it at the configured server and codec server
 * (test/e2e/operatorCommands.test.ts runs every one of them against a dev server).
 */

/** The dev server's Web UI (the embedded default only), optionally at one workflow. */
export function webUiUrl(config: AppConfig, workflowId?: string): string | undefined {
  if (config.temporal.mode !== 'embedded') return undefined;
  const base = `http://127.0.0.1:${config.temporal.devServer.uiPort}/namespaces/${config.temporal.namespace}/workflows`;
  return workflowId ? `${base}/${workflowId}` : base;
}

/** Printed by `npm start` once the worker runs: `[label, command]`. */
export function startCommands(): Array<[string, string]> {
  return [
    ['Lifecycles:', `npm run temporal -- workflow list --query 'WorkflowType="repaymentLifecycle"'`],
    ['In alert:', `npm run temporal -- workflow list --query 'RepaymentAlert IS NOT NULL'`],
    ['Lender CLI:', 'npm run cli -- --help'],
  ];
}

/** Printed by `npm run demo`, in an order that works as a script: settle, look, then end the demo. */
export function demoCommands(outContractCode: string, workflowId: string, outRecordId: string): string[] {
  return [
    `npm run cli -- report-result ${outContractCode} --record ${outRecordId} --outcome SUCCESS   # settles installment 1`,
    `npm run cli -- status ${outContractCode}`,
    `npm run temporal -- workflow describe --workflow-id ${workflowId}   # summary and current details`,
    `npm run temporal -- workflow query --workflow-id ${workflowId} --type status`,
    `npm run temporal -- workflow list --query 'OutContractCode="${outContractCode}"'`,
    `npm run cli -- cancel ${outContractCode} --reason "demo over"   # terminates the contract at the sandbox`,
  ];
}
