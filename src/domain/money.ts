/** Amounts are integer fen in decimal strings; shown to people in yuan, computed without floats. */

/** `'123456'` fen → `'1234.56'` yuan. */
export function fenToYuan(fen: string): string {
  if (!/^\d+$/.test(fen)) return fen;
  const padded = fen.padStart(3, '0');
  const yuan = padded.slice(0, -2).replace(/^0+(?=\d)/, '');
  return `${yuan}.${padded.slice(-2)}`;
}
