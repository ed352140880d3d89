/** FNV-1a, 64 bits, over the UTF-16 code units of a string: small, pure and stable across runs and processes. */
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = (1n << 64n) - 1n;

export function fnv1a64(text: string): bigint {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * FNV_PRIME) & MASK_64;
  }
  return hash;
}

export function fnv1a64Hex(text: string): string {
  return fnv1a64(text).toString(16).padStart(16, '0');
}
