import type { AppConfig } from '../config/load';
import { ConfigError, readFileOrFail, readSecret } from '../config/files';
import { startCodecServer, type CodecServerOptions, type RunningCodecServer } from './server';

/**
 * The codec server as configured (`codecServer:` in temporal.yaml) over the same payload codec the worker and the
 * lender client use. Browser origins default, on the embedded default only, to the dev server's Web UI.
 */
export async function startConfiguredCodecServer(
  config: AppConfig,
  logger?: CodecServerOptions['logger'],
): Promise<RunningCodecServer> {
  const codec = config.temporal.payloadCodec;
  if (!codec) {
    throw new ConfigError('temporal.payloadEncryption', 'payload encryption is off: a codec server has nothing to do');
  }
  const { host, port, tokenFile, tls } = config.codecServer;
  return startCodecServer({
    codec,
    host,
    port,
    allowedOrigins: allowedOrigins(config),
    ...(tokenFile ? { tokens: tokensIn(tokenFile) } : {}),
    ...(tls
      ? {
          tls: {
            cert: readFileOrFail(tls.certFile, 'codecServer.tls.certFile'),
            key: readFileOrFail(tls.keyFile, 'codecServer.tls.keyFile'),
          },
        }
      : {}),
    ...(logger ? { logger } : {}),
  });
}

export function allowedOrigins(config: AppConfig): string[] {
  if (config.codecServer.allowedOrigins) return config.codecServer.allowedOrigins;
  if (config.temporal.mode !== 'embedded') return [];
  const { uiPort } = config.temporal.devServer;
  // The dev server binds 127.0.0.1; a browser may still name it localhost.
  return [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];
}

/** One token per line (several during a rotation); short tokens are refused. */
export function tokensIn(file: string): string[] {
  const tokens = readSecret(file, 'codecServer.tokenFile')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (tokens.length === 0 || tokens.some((t) => t.length < 16 || /\s/.test(t))) {
    throw new ConfigError('codecServer.tokenFile', 'needs one or more tokens of at least 16 characters, one per line');
  }
  return tokens;
}
