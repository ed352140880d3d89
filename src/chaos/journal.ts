/**
 * What the chaos driver did, when, and what it was answered: the lender's calls, the user's actions in the
 * sandbox, every fault and process event. With the sandbox's records and request log it is the checker's truth.
 */

export type Actor = 'lender' | 'user' | 'fault' | 'stack';

export interface JournalEntry {
  /** Epoch ms. */
  at: number;
  actor: Actor;
  action: string;
  /** The contract (lifecycle) it concerns, if one. */
  code?: string;
  /** ok: done as meant; refused: answered no (expected for some); failed: could not be delivered at all. */
  outcome: 'ok' | 'refused' | 'failed';
  /** Attempts it took (deliveries retried while Temporal was down are late). */
  attempts?: number;
  detail?: string;
  /** Fault events: the schedule's event id, and when a period ends. */
  eventId?: number;
  endAt?: number;
}

export class Journal {
  readonly entries: JournalEntry[] = [];

  add(entry: Omit<JournalEntry, 'at'> & { at?: number }): JournalEntry {
    const full = { at: Date.now(), ...entry };
    this.entries.push(full);
    return full;
  }

  of(code: string): JournalEntry[] {
    return this.entries.filter((e) => e.code === code);
  }

  /** The first entry of an action for a contract that went through. */
  done(code: string, action: string): JournalEntry | undefined {
    return this.entries.find((e) => e.code === code && e.action === action && e.outcome === 'ok');
  }
}
