import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { LENDER_EVENT_SIGNATURE_HEADER, verifyLenderEvent } from '../../src/client/lenderEventSignature';
import type { LenderEvent } from '../../src/domain/lenderEvents';

/**
 * The lender's backend in tests: a real HTTP server on loopback that verifies every delivery with
 * `verifyLenderEvent` and records it, and that can be down (nothing listens on its port), answer an error, or be
 * slow, as the test says.
 */

export interface Arrival {
  event: LenderEvent;
  /** The raw body, to compare retries of one event byte for byte. */
  body: string;
  /** What the receiver answered (0: it was slow and the sender gave up before the answer). */
  status: number;
  headers: IncomingMessage['headers'];
}

export interface Answer {
  status: number;
  /** Hold the answer back this long. */
  delayMs?: number;
}

export interface TestEventReceiver {
  url: string;
  secret: string;
  arrivals: Arrival[];
  /** Deliveries refused because they did not verify (must stay empty). */
  refused: string[];
  /** How to answer the next deliveries (default: 200 at once). */
  answer: (event: LenderEvent) => Answer;
  /** Stops listening (connections refused) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestEventReceiver(secret = 'test-lender-event-secret'): Promise<TestEventReceiver> {
  const sockets = new Set<Socket>();
  let port = 0;
  let server: Server | undefined;
  const receiver: TestEventReceiver = {
    url: '',
    secret,
    arrivals: [],
    refused: [],
    answer: () => ({ status: 200 }),
    down: () => stop(),
    up: () => listen(),
    close: () => stop(),
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let event: LenderEvent;
    try {
      event = verifyLenderEvent({
        body,
        signature: request.headers[LENDER_EVENT_SIGNATURE_HEADER.toLowerCase()],
        secret,
      });
    } catch (error) {
      receiver.refused.push((error as Error).message);
      response.writeHead(400).end();
      return;
    }
    const { status, delayMs } = receiver.answer(event);
    const arrival: Arrival = {
      event,
      body: body.toString('utf8'),
      status: delayMs ? 0 : status,
      headers: request.headers,
    };
    receiver.arrivals.push(arrival);
    if (delayMs) {
      // Held back; a sender that gives up first closes the connection, and the answer is never written.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        request.socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (response.destroyed || request.socket.destroyed) return;
    arrival.status = status;
    response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
  }

  function listen(): Promise<void> {
    if (server) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const next = createServer((request, response) => void handle(request, response));
      next.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        server = next;
        port = (next.address() as AddressInfo).port;
        receiver.url = `http://127.0.0.1:${port}/lender/events`;
        resolve();
      });
    });
  }

  async function stop(): Promise<void> {
    const running = server;
    server = undefined;
    if (!running) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => running.close(() => resolve()));
  }

  await listen();
  return receiver;
}

/**
 * Checks what arrived for one lifecycle: each sequence number accepted exactly once and in order (1, 2, 3, …),
 * every repeated delivery of an id byte for byte the same. Returns the accepted events in sequence order.
 */
export function acceptedInOrder(arrivals: readonly Arrival[], outContractCode: string): LenderEvent[] {
  const mine = arrivals.filter((a) => a.event.outContractCode === outContractCode);
  const bodies = new Map<string, string>();
  for (const arrival of mine) {
    const first = bodies.get(arrival.event.id) ?? arrival.body;
    bodies.set(arrival.event.id, first);
    expect(JSON.parse(arrival.body)).toEqual(JSON.parse(first));
  }
  // Arrivals never go back in the sequence (a repeat of the last one may come again, never an older one).
  const sequences = mine.map((a) => a.event.sequence);
  sequences.forEach((sequence, i) => expect(sequence).toBeGreaterThanOrEqual(i === 0 ? 1 : sequences[i - 1]!));
  const accepted = mine.filter((a) => a.status >= 200 && a.status < 300).map((a) => a.event);
  const unique = [...new Map(accepted.map((e) => [e.id, e])).values()];
  expect(unique.map((e) => e.sequence)).toEqual(unique.map((_, i) => i + 1));
  return unique;
}
