import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import {
  DEFAULT_TOLERANCE_SECONDS,
  LENDER_EVENT_SIGNATURE_HEADER,
  LenderEventVerificationError,
  verifyLenderEvent,
} from '../client/lenderEventSignature';
import type { LenderEventsConfig } from '../config/lenderEvents';
import { readLenderEventSecrets } from '../config/lenderEvents';
import type { LenderEvent } from '../domain/lenderEvents';

/**
 * The development receiver of lender events (`npm run events`, and `npm start` with lender.events.devReceiver):
 * verifies each delivery as a lender's backend must (signature, tolerance window) and prints it, one line per
 * event. Answers 200 to a verified event (also to a repeat, which it names as such), 400 to anything else.
 */

const MAX_BODY_BYTES = 1024 * 1024;
/** Ids remembered to name repeats; a real receiver keeps them as long as its books need. */
const REMEMBERED_IDS = 10_000;

export interface EventsReceiverOptions {
  host?: string;
  port: number;
  secrets: readonly string[];
  toleranceSeconds?: number;
  print: (line: string) => void;
}

export interface RunningEventsReceiver {
  url: string;
  close(): Promise<void>;
}

export async function startEventsReceiver(options: EventsReceiverOptions): Promise<RunningEventsReceiver> {
  const seen = new Set<string>();
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const body = await readBody(request);
    if (!body) {
      response.writeHead(413).end();
      return;
    }
    let event: LenderEvent;
    try {
      event = verifyLenderEvent({
        body,
        signature: request.headers[LENDER_EVENT_SIGNATURE_HEADER.toLowerCase()],
        secret: options.secrets,
        toleranceSeconds: tolerance,
      });
    } catch (error) {
      if (!(error instanceof LenderEventVerificationError)) throw error;
      options.print(`✗ refused ${error.code}: ${error.message}`);
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: error.code }));
      return;
    }
    const repeat = seen.has(event.id);
    remember(seen, event.id);
    options.print(describe(event, repeat));
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.print(`✗ error: ${(error as Error).message}`);
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * `npm start` with lender.events.devReceiver: the receiver on the configured url's loopback port, its secret
 * generated on first use; undefined when not configured.
 */
export async function startConfiguredEventsReceiver(
  config: LenderEventsConfig,
  say: (line: string) => void,
): Promise<RunningEventsReceiver | undefined> {
  if (!config.devReceiver || !config.url || !config.secretFile) return undefined;
  if (ensureSecretFile(config.secretFile)) say(`Generated the lender events secret in ${config.secretFile}`);
  const url = new URL(config.url);
  return startEventsReceiver({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port) || 80,
    secrets: readLenderEventSecrets(config.secretFile),
    print: (line) => void process.stdout.write(`${line}\n`),
  });
}

/** Creates the secret file (32 random bytes, hex, mode 0600) when it does not exist yet; the embedded default. */
function ensureSecretFile(file: string): boolean {
  if (existsSync(file)) return false;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return true;
}

function describe(event: LenderEvent, repeat: boolean): string {
  const record = event.outRecordId ? ` ${event.outRecordId}` : '';
  const again = repeat ? ' (again: same id, already applied)' : '';
  return `✓ ${event.occurredAt} ${event.outContractCode} #${event.sequence} ${event.type}${record}${again} ${JSON.stringify(event.data)}`;
}

function remember(seen: Set<string>, id: string): void {
  seen.add(id);
  if (seen.size > REMEMBERED_IDS) seen.delete(seen.values().next().value as string);
}

/** The raw body, or undefined when it is larger than the limit (nothing more is read). */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      request.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
