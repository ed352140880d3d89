import type { Logger, LogLevel, LogMetadata } from '@temporalio/common';

/**
 * Structured logs: one JSON object per line on stdout, for the worker, `npm start` and the SDK itself (installed as
 * the Temporal runtime's logger). Values under sensitive keys are replaced before anything is written, at any
 * depth, so that a key, an Authorization header or a user's openid never reaches a log.
 */

const LEVELS: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };
const SENSITIVE_KEY = /authorization|private.?key|api.?key|secret|password|token|openid|signature|^pem$/i;
const PEM_BLOCK = /-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g;
const AUTH_HEADER = /WECHATPAY2-SHA256-RSA2048\s+[^\s]+/g;
/** The SDK logs whole webpack reports at INFO; one log line should stay one readable line. */
const MAX_MESSAGE_CHARS = 1000;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string')
    return value.replace(PEM_BLOCK, '[REDACTED PEM]').replace(AUTH_HEADER, '[REDACTED AUTHORIZATION]');
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redact(value.message, depth + 1),
      ...(redact({ ...value }, depth + 1) as object),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SENSITIVE_KEY.test(k) ? '[REDACTED]' : redact(v, depth + 1)]),
    );
  }
  return value;
}

export class JsonLogger implements Logger {
  constructor(
    private readonly minLevel: LogLevel = 'INFO',
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
    private readonly base: LogMetadata = {},
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (LEVELS[level] < LEVELS[this.minLevel]) return;
    const text =
      message.length > MAX_MESSAGE_CHARS
        ? `${message.slice(0, MAX_MESSAGE_CHARS)}… (${message.length} chars)`
        : message;
    const entry = {
      time: new Date().toISOString(),
      level,
      message: redact(text),
      ...(redact({ ...this.base, ...meta }) as object),
    };
    this.write(JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  }

  child(meta: LogMetadata): JsonLogger {
    return new JsonLogger(this.minLevel, this.write, { ...this.base, ...meta });
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
