import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { DataConverter, TLSConfig } from '@temporalio/client';
import type { PayloadEncryptionCodec } from '../codec/payloadEncryption';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, readFileOrFail, readSecret } from './files';
import { resolveLenderEvents, type LenderEventsConfig } from './lenderEvents';
import { resolvePayloadCodec } from './payloadEncryption';
import { ConfigFileSchema, WECHATPAY_BACKUP_URL, WECHATPAY_PRIMARY_URL, type ConfigFile } from './schema';

export { ConfigError } from './files';
export type { LenderEventsConfig } from './lenderEvents';

/**
 * The one configuration loader used by the worker, the lender client and the CLI.
 *
 * Sources, lowest to highest precedence:
 *   1. defaults (schema.ts);
 *   2. temporal.yaml (REPAYMENT_CONFIG, else ./temporal.yaml; absent file = all defaults);
 *   3. the Temporal conventions: the client config file and profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)
 *      and TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* (via @temporalio/envconfig);
 *   4. WECHATPAY_* variables for the merchant, LENDER_EVENTS_* for the lender's events (see README);
 *   5. OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) turns tracing on.
 * An absent Temporal address means the embedded dev server; absent merchant credentials mean the sandbox.
 */

export interface TemporalConnectionConfig {
  address: string;
  tls?: TLSConfig | boolean;
  /** Secret: never logged. */
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface MerchantConfig {
  mchid: string;
  merchantSerialNo: string;
  privateKeyFile: string;
  /** Public-key mode: at least one. Platform-certificate mode: trusted to verify downloads (may be empty). */
  verificationKeys: Array<{ id: string; publicKeyFile: string }>;
  /** Present in platform-certificate mode (an APIv3 key is configured). */
  platformCertificates?: PlatformCertificateConfig;
}

export interface PlatformCertificateConfig {
  /** Secret: read by the worker, never logged. */
  apiV3KeyFile: string;
  storeFile: string;
  refreshIntervalMs: number;
  unknownSerialCooldownMs: number;
}

export interface AppConfig {
  /** The temporal.yaml that was read, or undefined when none exists. */
  file: string | undefined;
  temporal: {
    mode: 'embedded' | 'external';
    connection: TemporalConnectionConfig;
    namespace: string;
    taskQueue: string;
    compensationTaskQueue: string;
    devServer: ConfigFile['temporal']['devServer'];
    /** Payload encryption for client and worker alike (also what the codec server runs), when on. */
    payloadCodec: PayloadEncryptionCodec | undefined;
    /** The same codec as a data converter, for Client and Worker options. */
    dataConverter: DataConverter | undefined;
  };
  /** File paths resolved; the token and TLS files are read by the codec server itself. */
  codecServer: ConfigFile['codecServer'];
  /** Tracing is on when the standard OTLP endpoint variable is set; the exporter reads the other OTEL_* itself. */
  tracing: { endpoint: string | undefined };
  wechatpay: {
    mode: 'sandbox' | 'merchant';
    /** Present in merchant mode; in sandbox mode the sandbox supplies keys and URLs at start-up. */
    merchant: MerchantConfig | undefined;
    baseUrls: { primary: string; backup?: string };
    timeoutMs: number;
    failbackAfterMs: number;
  };
  sandbox: ConfigFile['sandbox'];
  worker: ConfigFile['worker'];
  lifecycle: ConfigFile['lifecycle'];
  /** Signed events to the lender's backend (off while `url` is undefined). */
  lenderEvents: LenderEventsConfig;
  /** Human-readable lines saying what was chosen and why; printed at start-up. */
  choices: string[];
}

export interface LoadOptions {
  /** Path of the YAML file; overrides REPAYMENT_CONFIG. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function loadConfig(options: LoadOptions = {}): AppConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.REPAYMENT_CONFIG;
  const file = resolve(cwd, explicit ?? 'temporal.yaml');
  if (explicit && !existsSync(file)) throw new ConfigError('file', `${file} does not exist`);
  const present = existsSync(file);
  const raw = present ? parseYaml(readFileSync(file, 'utf8'), file) : {};
  const parsed = ConfigFileSchema.safeParse(raw ?? {});
  if (!parsed.success) throw fromZod(parsed.error, present ? file : undefined);
  const cfg = parsed.data;
  const base = present ? dirname(file) : cwd;
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const choices: string[] = [present ? `config: ${file}` : `config: no ${file}; using defaults`];

  const temporal = resolveTemporal(cfg, env, path, choices);
  const wechatpay = resolveWechatPay(cfg, env, path, choices, present ? file : undefined);
  const lenderEvents = resolveLenderEvents(cfg, env, path, choices, present ? file : undefined);
  const { tokenFile, tls } = cfg.codecServer;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  if (endpoint) choices.push(`tracing: OpenTelemetry spans to ${endpoint} (OTEL_EXPORTER_OTLP_*)`);
  return {
    file: present ? file : undefined,
    temporal,
    wechatpay,
    codecServer: {
      ...cfg.codecServer,
      ...(tokenFile ? { tokenFile: path(tokenFile) } : {}),
      ...(tls ? { tls: { certFile: path(tls.certFile), keyFile: path(tls.keyFile) } } : {}),
    },
    tracing: { endpoint },
    sandbox: { ...cfg.sandbox, dataDir: path(cfg.sandbox.dataDir) },
    worker: cfg.worker,
    lifecycle: cfg.lifecycle,
    lenderEvents,
    choices,
  };
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const [first] = doc.errors;
  if (first) {
    const [line, col] = first.linePos?.[0] ? [first.linePos[0].line, first.linePos[0].col] : [0, 0];
    throw new ConfigError(`line ${line}:${col}`, `not valid YAML (${first.code})`, file);
  }
  return doc.toJS();
}

function fromZod(error: z.ZodError, file: string | undefined): ConfigError {
  const [issue] = error.issues;
  if (!issue) return new ConfigError('(root)', 'invalid', file);
  if (issue.code === 'unrecognized_keys') {
    const parent = formatPath(issue.path);
    const keys = issue.keys.map((k) => (parent ? `${parent}.${k}` : k));
    return new ConfigError(keys.join(', '), 'unknown key', file);
  }
  const key = issue.path.length > 0 ? formatPath(issue.path) : '(root)';
  return new ConfigError(key, issue.message, file);
}

/** `wechatpay.verificationKeys[0].id`, the way a reader finds the key in the YAML. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

function resolveTemporal(
  cfg: ConfigFile,
  env: NodeJS.ProcessEnv,
  path: (p: string) => string,
  choices: string[],
): AppConfig['temporal'] {
  const t = cfg.temporal;
  // The Temporal conventions (client config file, profile, TEMPORAL_* variables) override the YAML.
  const profile = loadClientConfigProfile({
    profile: t.profile,
    overrideEnvVars: definedOnly(env),
  });
  const fromProfile = toClientOptions(profile);
  const address = profile.address ?? t.address;
  const namespace = profile.namespace ?? t.namespace;
  const devServer = {
    ...t.devServer,
    dbFile: path(t.devServer.dbFile),
    payloadKeyFile: path(t.devServer.payloadKeyFile),
  };
  const codec = (mode: 'embedded' | 'external') => {
    const payloadCodec = resolvePayloadCodec(t, mode, path, choices);
    return { payloadCodec, dataConverter: payloadCodec ? { payloadCodecs: [payloadCodec] } : undefined };
  };
  const common = {
    namespace,
    taskQueue: t.taskQueue,
    compensationTaskQueue: t.compensationTaskQueue,
    devServer,
  };
  if (!address) {
    choices.push(
      `temporal: embedded dev server on 127.0.0.1:${devServer.port} (no temporal.address or TEMPORAL_ADDRESS)`,
    );
    return {
      mode: 'embedded',
      connection: { address: `127.0.0.1:${devServer.port}` },
      ...common,
      ...codec('embedded'),
    };
  }

  let apiKey = profile.apiKey;
  if (apiKey === undefined && t.apiKeyFile) apiKey = readSecret(path(t.apiKeyFile), 'temporal.apiKeyFile');
  let tls: TLSConfig | boolean | undefined = fromProfile.connectionOptions.tls ?? undefined;
  if (tls === undefined && t.tls) {
    tls = t.tls.enabled
      ? {
          serverNameOverride: t.tls.serverName,
          serverRootCACertificate: t.tls.serverRootCaCertFile
            ? readFileOrFail(path(t.tls.serverRootCaCertFile), 'temporal.tls.serverRootCaCertFile')
            : undefined,
          clientCertPair:
            t.tls.clientCertFile && t.tls.clientKeyFile
              ? {
                  crt: readFileOrFail(path(t.tls.clientCertFile), 'temporal.tls.clientCertFile'),
                  key: readFileOrFail(path(t.tls.clientKeyFile), 'temporal.tls.clientKeyFile'),
                }
              : undefined,
        }
      : false;
  }
  // An API key implies TLS (Temporal Cloud), as the Temporal CLI assumes.
  if (tls === undefined && apiKey !== undefined) tls = true;
  const source = profile.address ? 'TEMPORAL_ADDRESS / Temporal client profile' : 'temporal.address';
  choices.push(
    `temporal: external cluster ${address}, namespace ${namespace} (from ${source}; TLS ${tls ? 'on' : 'off'}; ` +
      `API key ${apiKey ? 'set' : 'not set'})`,
  );
  return {
    mode: 'external',
    connection: { address, tls, apiKey, metadata: profile.grpcMeta },
    ...common,
    ...codec('external'),
  };
}

function resolveWechatPay(
  cfg: ConfigFile,
  env: NodeJS.ProcessEnv,
  path: (p: string) => string,
  choices: string[],
  file: string | undefined,
): AppConfig['wechatpay'] {
  const w = cfg.wechatpay;
  const envKeys =
    env.WECHATPAY_PUBLIC_KEY_ID && env.WECHATPAY_PUBLIC_KEY_FILE
      ? [{ id: env.WECHATPAY_PUBLIC_KEY_ID, publicKeyFile: env.WECHATPAY_PUBLIC_KEY_FILE }]
      : undefined;
  const merchant = {
    mchid: env.WECHATPAY_MCHID ?? w.mchid,
    merchantSerialNo: env.WECHATPAY_MERCHANT_SERIAL_NO ?? w.merchantSerialNo,
    privateKeyFile: env.WECHATPAY_PRIVATE_KEY_FILE ?? w.privateKeyFile,
    verificationKeys: envKeys ?? w.verificationKeys,
  };
  const apiV3KeyFile = env.WECHATPAY_APIV3_KEY_FILE ?? w.apiV3KeyFile;
  const primary = env.WECHATPAY_BASE_URL ?? w.baseUrls.primary;
  // Failing over from a staging or mock primary to production would send signed POSTs to the live service:
  // the production backup is the default only for the production primary.
  const backup =
    env.WECHATPAY_BACKUP_BASE_URL ??
    w.baseUrls.backup ??
    (primary === WECHATPAY_PRIMARY_URL ? WECHATPAY_BACKUP_URL : undefined);
  const baseUrls = { primary, ...(backup ? { backup } : {}) };
  const common = { baseUrls, timeoutMs: w.timeoutMs, failbackAfterMs: w.failbackAfterMs };
  const given = Object.entries({ ...merchant, apiV3KeyFile }).filter(([, v]) => v !== undefined);
  if (given.length === 0) {
    choices.push('wechatpay: local sandbox (no merchant credentials configured)');
    return { mode: 'sandbox', merchant: undefined, ...common };
  }
  // With an APIv3 key the platform certificates are downloaded, so verification keys become optional.
  const missing = Object.entries(merchant).find(
    ([k, v]) => v === undefined && !(k === 'verificationKeys' && apiV3KeyFile !== undefined),
  );
  if (missing) {
    const alternative = missing[0] === 'verificationKeys' ? ', unless wechatpay.apiV3KeyFile is' : '';
    throw new ConfigError(
      `wechatpay.${missing[0]}`,
      `required once any merchant credential is configured${alternative} (${given.map(([k]) => k).join(', ')} given)`,
      file,
    );
  }
  const m = merchant as Omit<MerchantConfig, 'verificationKeys'> & Partial<Pick<MerchantConfig, 'verificationKeys'>>;
  const resolved: MerchantConfig = {
    ...m,
    privateKeyFile: path(m.privateKeyFile),
    verificationKeys: (m.verificationKeys ?? []).map((k) => ({ ...k, publicKeyFile: path(k.publicKeyFile) })),
    ...(apiV3KeyFile === undefined
      ? {}
      : {
          platformCertificates: {
            ...w.platformCertificates,
            apiV3KeyFile: path(apiV3KeyFile),
            storeFile: path(w.platformCertificates.storeFile),
          },
        }),
  };
  for (const [key, p] of [
    ['wechatpay.privateKeyFile', resolved.privateKeyFile] as const,
    ...resolved.verificationKeys.map(
      (k, i) => [`wechatpay.verificationKeys[${i}].publicKeyFile`, k.publicKeyFile] as const,
    ),
    ...(resolved.platformCertificates
      ? [['wechatpay.apiV3KeyFile', resolved.platformCertificates.apiV3KeyFile] as const]
      : []),
  ]) {
    if (!existsSync(p)) throw new ConfigError(key, `file ${p} does not exist`, file);
  }
  const keys = resolved.verificationKeys.map((k) => k.id).join(', ') || 'none';
  const verification = resolved.platformCertificates
    ? `platform certificates downloaded and refreshed (kept in ${resolved.platformCertificates.storeFile}; configured keys: ${keys})`
    : `verification keys ${keys}`;
  choices.push(
    `wechatpay: merchant ${resolved.mchid} at ${baseUrls.primary}` +
      `${baseUrls.backup ? ` (backup ${baseUrls.backup})` : ''}, ${verification}`,
  );
  return { mode: 'merchant', merchant: resolved, ...common };
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}
