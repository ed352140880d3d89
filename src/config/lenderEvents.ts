import { ConfigError, readSecret } from './files';
import type { ConfigFile } from './schema';

/**
 * `lender.events` of temporal.yaml with its environment overrides (LENDER_EVENTS_URL, LENDER_EVENTS_SECRET_FILE):
 * signed deliveries to the lender's backend, off while no url is set.
 */

export interface LenderEventsConfig {
  /** Absent: no events are emitted or delivered. */
  url: string | undefined;
  /** Resolved path of the secret file (one secret per line). */
  secretFile: string | undefined;
  headers: Record<string, string>;
  taskQueue: string;
  timeoutMs: number;
  maxConcurrentDeliveries: number;
  devReceiver: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function resolveLenderEvents(
  cfg: ConfigFile,
  env: NodeJS.ProcessEnv,
  path: (p: string) => string,
  choices: string[],
  file: string | undefined,
): LenderEventsConfig {
  const e = cfg.lender.events;
  const url = env.LENDER_EVENTS_URL || e.url;
  const secret = env.LENDER_EVENTS_SECRET_FILE || e.secretFile;
  const resolved: LenderEventsConfig = {
    url,
    secretFile: secret ? path(secret) : undefined,
    headers: e.headers,
    taskQueue: e.taskQueue,
    timeoutMs: e.timeoutMs,
    maxConcurrentDeliveries: e.maxConcurrentDeliveries,
    devReceiver: e.devReceiver,
  };
  if (url && !isHttpUrl(url)) {
    throw new ConfigError('lender.events.url', 'must be an http(s) URL (LENDER_EVENTS_URL)', file);
  }
  if (url && !secret) {
    throw new ConfigError(
      'lender.events.secretFile',
      'required with lender.events.url: every event is signed (LENDER_EVENTS_SECRET_FILE)',
      file,
    );
  }
  if (e.devReceiver && (!url || !LOOPBACK.has(new URL(url).hostname))) {
    throw new ConfigError('lender.events.devReceiver', 'needs lender.events.url on 127.0.0.1 or localhost', file);
  }
  choices.push(
    url
      ? `lender events: signed deliveries to ${new URL(url).origin} (task queue ${e.taskQueue})`
      : 'lender events: off (no lender.events.url or LENDER_EVENTS_URL)',
  );
  return resolved;
}

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** The secrets of the file, one per line (the worker signs with each; a receiver accepts any). */
export function readLenderEventSecrets(secretFile: string): string[] {
  const secrets = readSecret(secretFile, 'lender.events.secretFile')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (secrets.length === 0) throw new ConfigError('lender.events.secretFile', `${secretFile} holds no secret`);
  return secrets;
}
