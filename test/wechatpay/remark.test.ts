import { MAX_REMARK_BYTES, terminationRemark } from '../../src/domain/termination';
import { WechatPayValidationError } from '../../src/wechatpay/errors';
import { assertRemark, utf8ByteLength } from '../../src/wechatpay/validation';

/** contract_termination_remark: at most 128 bytes of UTF-8, built by the domain and checked at the edge alike. */

const bytesOf = (text: string): number => Buffer.byteLength(text, 'utf8');

describe('utf8ByteLength', () => {
  it('agrees with Buffer.byteLength for 1-, 2-, 3- and 4-byte characters', () => {
    for (const text of ['', 'abc', 'é', '还款失败', '…', '😀', 'a€😀é还']) {
      expect(utf8ByteLength(text)).toBe(bytesOf(text));
    }
  });
});

describe('terminationRemark', () => {
  it('cuts multi-byte Chinese text on a character boundary within 128 bytes, ending in "…"', () => {
    const remark = terminationRemark('还款失败'.repeat(50));
    expect(MAX_REMARK_BYTES).toBe(128);
    expect(bytesOf(remark)).toBeLessThanOrEqual(MAX_REMARK_BYTES);
    expect(remark.endsWith('…')).toBe(true);
    // 41 characters of 3 bytes and the 3-byte ellipsis: 126 bytes; a 42nd character would not fit.
    expect(remark).toBe(`${'还款失败'.repeat(11).slice(0, 41)}…`);
    expect(Buffer.from(remark, 'utf8').toString('utf8')).toBe(remark); // no broken character
  });

  it('cuts mixed ASCII and Chinese text so that no character is split', () => {
    for (let prefix = 0; prefix < 4; prefix++) {
      const remark = terminationRemark(`${'x'.repeat(prefix)}${'解约原因'.repeat(40)}`);
      expect(bytesOf(remark)).toBeLessThanOrEqual(MAX_REMARK_BYTES);
      expect(bytesOf(remark)).toBeGreaterThan(MAX_REMARK_BYTES - 6);
      expect(() => assertRemark(remark)).not.toThrow();
    }
  });

  it('keeps a remark of exactly 128 bytes as it is, and cuts one of 129', () => {
    const exact = `${'备'.repeat(42)}ab`;
    expect(terminationRemark(exact)).toBe(exact);
    expect(terminationRemark(`${exact}c`)).toBe(`${'备'.repeat(41)}…`); // a 42nd 备 would make 129 with the …
  });

  it('keeps its other rules: whitespace collapsed, 4-byte characters and lone surrogates dropped, never empty', () => {
    expect(terminationRemark('  short\n reason ')).toBe('short reason');
    expect(terminationRemark('ok 😀 done')).toBe('ok done');
    expect(terminationRemark('cancelled \uD800 by 😀 lender')).toBe('cancelled by lender');
    expect(terminationRemark(' 😀 ')).toBe('terminated by the repayment lifecycle');
  });
});

describe('assertRemark (the edge) accepts every remark the domain builds, and nothing longer', () => {
  it('refuses 129 bytes, naming the rule', () => {
    let error: unknown;
    try {
      assertRemark('备'.repeat(43));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(WechatPayValidationError);
    expect(error).toMatchObject({ field: 'contract_termination_remark', rule: 'at most 128 bytes of UTF-8' });
  });

  it.each(['还款失败'.repeat(100), 'é'.repeat(200), 'a'.repeat(500), '用户 cancelled: 逾期 '.repeat(30)])(
    'accepts terminationRemark(%#)',
    (reason) => {
      expect(() => assertRemark(terminationRemark(reason))).not.toThrow();
    },
  );
});
