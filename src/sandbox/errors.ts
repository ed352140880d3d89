import type { InventedIssue } from './inventions';

/** `detail` of a sandbox error: every issue value is catalogued in inventions.ts (the type makes sure of it). */
// A type alias (not an interface) so that it is assignable to Record<string, unknown>.
export type SandboxErrorDetail = {
  field?: string;
  header?: string;
  issue?: InventedIssue;
};

/**
 * An answer the sandbox gives instead of a result, in WeChat Pay's error shape
 * (`{"code":"…","message":"…","detail":{…}}`). Used by the five endpoints and by the control API alike.
 */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  readonly httpStatus: number;
  readonly code: string;
  readonly detail: Record<string, unknown> | undefined;

  constructor(httpStatus: number, code: string, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.httpStatus = httpStatus;
    this.code = code;
    this.detail = detail;
  }

  toBody(): { code: string; message: string; detail?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.detail ? { detail: this.detail } : {}) };
  }
}

/** `400 PARAM_ERROR` naming the field, a machine-readable issue and the rule in words. */
export function paramError(field: string, issue: InventedIssue, rule: string): SandboxError {
  return new SandboxError(400, 'PARAM_ERROR', `${field}: ${rule}`, { field, issue });
}

export function invalidRequest(message: string, detail?: SandboxErrorDetail): SandboxError {
  return new SandboxError(400, 'INVALID_REQUEST', message, detail);
}

export function signError(issue: InventedIssue, message: string): SandboxError {
  return new SandboxError(401, 'SIGN_ERROR', message, { issue });
}

export function resourceNotExists(what: string, detail?: SandboxErrorDetail): SandboxError {
  return new SandboxError(404, 'RESOURCE_NOT_EXISTS', `${what} 不存在 (does not exist)`, detail);
}
