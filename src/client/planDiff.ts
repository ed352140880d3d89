import { formatPath } from '../domain/plan';

/**
 * Where two JSON values differ, as field paths (`installments[3].repaymentAmount`), at most `limit` of them.
 * Used to tell a lender exactly why a second start of a contract conflicts with the first.
 */
export function jsonDifferences(a: unknown, b: unknown, limit = 5): string[] {
  const found: string[] = [];
  walk(a, b, [], found, limit);
  return found;
}

function walk(a: unknown, b: unknown, path: PropertyKey[], found: string[], limit: number): void {
  if (found.length >= limit) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) {
      found.push(`${formatPath(path)} (${a.length} vs ${b.length} items)`);
      return;
    }
    a.forEach((item, index) => walk(item, b[index], [...path, index], found, limit));
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) walk(a[key], b[key], [...path, key], found, limit);
    return;
  }
  if (a !== b) found.push(formatPath(path));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
