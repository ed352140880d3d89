import { readFileSync } from 'node:fs';

/** The typed error of the configuration loader, and reading the files the configuration names. */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly rule: string,
    readonly file?: string,
  ) {
    super(`${file ?? 'configuration'}: ${key}: ${rule}`);
  }
}

export function readSecret(file: string, key: string): string {
  return readFileOrFail(file, key).toString('utf8').trim();
}

export function readFileOrFail(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    throw new ConfigError(key, `cannot read ${file}`);
  }
}
