import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../domain/searchAttributes';

const grpcStatus = { UNIMPLEMENTED: 12 } as const;

/**
 * Registers the project's search attributes in a namespace (operator API). Needed on servers that start without
 * them: the time-skipping test server, and a real cluster the first time (the dev server gets them as flags).
 * Attributes that already exist are skipped, so it is safe to call on every start.
 */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const known = new Set<string>();
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    for (const name of Object.keys(existing.customAttributes ?? {})) known.add(name);
  } catch (err) {
    // The time-skipping test server implements add but not list; anything else is a real error.
    if ((err as { code?: number }).code !== grpcStatus.UNIMPLEMENTED) throw err;
  }
  const missing = SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
      ),
    });
  }
  return missing.map((key) => key.name);
}
