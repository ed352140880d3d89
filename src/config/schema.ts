import { z } from 'zod';
import { PartialLifecyclePolicySchema } from '../domain/policy';

/**
 * The shape of temporal.yaml. Every object is strict (an unknown key is an error, so a typo never silently
 * falls back to a default). Secrets are never accepted inline: only paths to files, or environment variables.
 */

const nonEmpty = z.string().min(1, 'must not be empty');
const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();
const httpUrl = z
  .string()
  .url('must be a URL')
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');

const TlsSchema = z
  .object({
    enabled: z.boolean().default(true),
    serverName: nonEmpty.optional(),
    serverRootCaCertFile: nonEmpty.optional(),
    clientCertFile: nonEmpty.optional(),
    clientKeyFile: nonEmpty.optional(),
  })
  .strict()
  .refine((t) => !t.clientCertFile === !t.clientKeyFile, {
    message: 'clientCertFile and clientKeyFile go together',
    path: ['clientKeyFile'],
  });

const PayloadKeySchema = z
  .object({
    keyId: nonEmpty,
    /** 32 random bytes, base64 (`openssl rand -base64 32`). */
    keyFile: nonEmpty,
  })
  .strict();

const DevServerSchema = z
  .object({
    port: port.default(7233),
    uiPort: port.default(8233),
    dbFile: nonEmpty.default('.temporal/dev-server.db'),
    /**
     * The embedded default encrypts payloads with a key generated into payloadKeyFile (unless
     * temporal.payloadEncryption names a key); false keeps them readable in history.
     */
    encryptPayloads: z.boolean().default(true),
    payloadKeyFile: nonEmpty.default('.temporal/payload.key'),
  })
  .strict();

export const TemporalSectionSchema = z
  .object({
    /** host:port of a cluster or Temporal Cloud; absent means the embedded dev server. */
    address: nonEmpty.optional(),
    namespace: nonEmpty.default('default'),
    taskQueue: nonEmpty.default('credit-repayment'),
    /** Its own queue, so that the 100 calls/s limit of the compensation query is enforced by the server. */
    compensationTaskQueue: nonEmpty.default('credit-repayment-compensation'),
    /** Profile of the Temporal client config file (TEMPORAL_CONFIG_FILE), as the `temporal` CLI uses it. */
    profile: nonEmpty.optional(),
    apiKeyFile: nonEmpty.optional(),
    tls: TlsSchema.optional(),
    /** Encrypt every payload (plan, openid, results) before it reaches the server; old keys still decrypt. */
    payloadEncryption: PayloadKeySchema.extend({ previousKeys: z.array(PayloadKeySchema).optional() })
      .strict()
      .optional(),
    devServer: DevServerSchema.default(DevServerSchema.parse({})),
  })
  .strict();

export const WECHATPAY_PRIMARY_URL = 'https://api.mch.weixin.qq.com';
export const WECHATPAY_BACKUP_URL = 'https://api2.mch.weixin.qq.com';

const VerificationKeySchema = z
  .object({
    /** WeChat Pay public key id (PUB_KEY_ID_…) or platform certificate serial. */
    id: nonEmpty,
    /** PEM: WeChat Pay public key or platform certificate. */
    publicKeyFile: nonEmpty,
  })
  .strict();

export const PLATFORM_CERTIFICATE_DEFAULTS = {
  storeFile: '.wechatpay/platform-certificates.json',
  refreshIntervalMs: 12 * 60 * 60 * 1000,
  unknownSerialCooldownMs: 60_000,
};

const PlatformCertificatesSchema = z
  .object({
    /** The certificates trusted across restarts: written by `certificates pin`, updated by every refresh. */
    storeFile: nonEmpty.default(PLATFORM_CERTIFICATE_DEFAULTS.storeFile),
    /** The official SDKs refresh every 1 to 24 h; longer than 2 days risks missing a rotation's overlap. */
    refreshIntervalMs: positiveInt
      .min(60_000, 'must be at least 60000 (1 min)')
      .max(172_800_000, 'must be at most 172800000 (2 days)')
      .default(PLATFORM_CERTIFICATE_DEFAULTS.refreshIntervalMs),
    /** At most one refresh per this interval is triggered by answers naming an unknown Wechatpay-Serial. */
    unknownSerialCooldownMs: positiveInt
      .min(1_000, 'must be at least 1000')
      .default(PLATFORM_CERTIFICATE_DEFAULTS.unknownSerialCooldownMs),
  })
  .strict();

export const WechatPaySectionSchema = z
  .object({
    mchid: z
      .string()
      .regex(/^\d{1,32}$/, 'must be digits')
      .optional(),
    merchantSerialNo: z
      .string()
      .regex(/^[0-9A-Fa-f]{8,64}$/, 'must be the hex serial of the merchant API certificate')
      .optional(),
    /** apiclient_key.pem (PKCS#8 or PKCS#1). */
    privateKeyFile: nonEmpty.optional(),
    /** Several keys at once during a rotation. */
    verificationKeys: z.array(VerificationKeySchema).min(1, 'needs at least one key').optional(),
    /** The merchant's APIv3 key (32 characters) in a file: turns on platform-certificate mode. */
    apiV3KeyFile: nonEmpty.optional(),
    /** Platform-certificate mode only (ignored without apiV3KeyFile). */
    platformCertificates: PlatformCertificatesSchema.default(PLATFORM_CERTIFICATE_DEFAULTS),
    /** Defaults: WeChat Pay's primary and backup domains. The backup defaults only with the default primary. */
    baseUrls: z
      .object({ primary: httpUrl.default(WECHATPAY_PRIMARY_URL), backup: httpUrl.optional() })
      .strict()
      .default({ primary: WECHATPAY_PRIMARY_URL }),
    /** Per HTTP attempt. A call may try both domains, and both attempts must fit the activities' 45 s timeout. */
    timeoutMs: positiveInt
      .max(20_000, 'must be at most 20000 (two attempts must fit the 45 s activity timeout)')
      .default(10_000),
    failbackAfterMs: positiveInt.default(60_000),
  })
  .strict();

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** The Temporal codec server (POST /encode, /decode) the Web UI and the CLI use to read encrypted payloads. */
export const CodecServerSectionSchema = z
  .object({
    host: nonEmpty.default('127.0.0.1'),
    port: port.default(8234),
    /** Origins of the Web UIs allowed to call it (CORS); absent under `npm start` = the dev server's UI. */
    allowedOrigins: z
      .array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin such as https://temporal.example.com'))
      .optional(),
    /** File with the bearer token(s) callers must send (one per line, for rotation). */
    tokenFile: nonEmpty.optional(),
    tls: z.object({ certFile: nonEmpty, keyFile: nonEmpty }).strict().optional(),
  })
  .strict()
  // Whoever can call it can decrypt every payload: beyond loopback it must ask for a token.
  .refine((c) => LOOPBACK_HOSTS.has(c.host) || c.tokenFile !== undefined, {
    message: 'required when host is not a loopback address (anyone who can call it can decrypt payloads)',
    path: ['tokenFile'],
  });

export const SandboxSectionSchema = z
  .object({
    port: port.default(0),
    backupPort: port.default(0),
    dataDir: nonEmpty.default('.sandbox'),
  })
  .strict();

export const WorkerSectionSchema = z
  .object({
    /** Prometheus scrape endpoint of the Temporal runtime; 0 disables it. */
    metricsPort: port.default(9464),
    /** Interface the metrics endpoint binds to; 0.0.0.0 lets a Prometheus on another machine scrape it. */
    metricsHost: z.string().min(1).default('127.0.0.1'),
    maxConcurrentActivityTaskExecutions: positiveInt.default(200),
    maxConcurrentWorkflowTaskExecutions: positiveInt.default(40),
    /** Server-side limit across all workers of the compensation queue (WeChat Pay allows 100/s per merchant). */
    compensationActivitiesPerSecond: z.number().positive().max(100).default(100),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  })
  .strict();

/** Our own headers, which the configured ones may not replace. */
const RESERVED_EVENT_HEADERS = /^(content-type|content-length|host|user-agent|lender-event-.*)$/i;

/** Signed webhooks to the lender's backend (README "Lender events"); off while no url is set. */
const LenderEventsSchema = z
  .object({
    url: httpUrl.optional(),
    /** The HMAC secret(s), one per line (the first signs; all sign during a rotation). Never inline. */
    secretFile: nonEmpty.optional(),
    /** Extra request headers (not secrets: this file holds none), e.g. a tenant id for the lender's gateway. */
    headers: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a header name')
          .refine((name) => !RESERVED_EVENT_HEADERS.test(name), 'is set by the worker itself'),
        z.string().max(1024),
      )
      .default({}),
    /** Deliveries run on their own task queue and worker slots, so a slow receiver never holds WeChat Pay calls. */
    taskQueue: nonEmpty.default('credit-repayment-events'),
    /** Per HTTP request (one event). */
    timeoutMs: positiveInt.max(20_000, 'must be at most 20000').default(10_000),
    maxConcurrentDeliveries: positiveInt.max(1000).default(20),
    /** `npm start` also runs the development receiver (`npm run events`) on the url's loopback port. */
    devReceiver: z.boolean().default(false),
  })
  .strict();

export const LenderSectionSchema = z
  .object({ events: LenderEventsSchema.default(LenderEventsSchema.parse({})) })
  .strict();

export const ConfigFileSchema = z
  .object({
    temporal: TemporalSectionSchema.default(TemporalSectionSchema.parse({})),
    wechatpay: WechatPaySectionSchema.default(WechatPaySectionSchema.parse({})),
    codecServer: CodecServerSectionSchema.default(CodecServerSectionSchema.parse({})),
    sandbox: SandboxSectionSchema.default(SandboxSectionSchema.parse({})),
    worker: WorkerSectionSchema.default(WorkerSectionSchema.parse({})),
    lender: LenderSectionSchema.default(LenderSectionSchema.parse({})),
    /** Defaults of the lifecycle policy (each plan may override them): the domain's own policy rules. */
    lifecycle: PartialLifecyclePolicySchema.default({}),
  })
  .strict();

export type ConfigFile = z.infer<typeof ConfigFileSchema>;
