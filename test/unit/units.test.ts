// Unit tests for go-units / docker opts compatible size, duration and timestamp helpers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesSize,
  formatGoFloat,
  formatGoG,
  humanDuration,
  humanSize,
  parseBytes,
  parseCpus,
  parseDurationOrTimestamp,
  parseGoDuration,
  parseSize,
  toApiTimestamp,
} from '../../src/util/units.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const PiB = 1024 * TiB;

describe('parseBytes (RAMInBytes)', () => {
  it('parses binary sizes with optional b / ib suffixes, case-insensitive', () => {
    const cases: Array<[string, number]> = [
      ['32', 32], ['32b', 32], ['32B', 32], ['32k', 32 * KiB], ['32K', 32 * KiB], ['32kb', 32 * KiB],
      ['32Kb', 32 * KiB], ['32KiB', 32 * KiB], ['32Mb', 32 * MiB], ['512m', 512 * MiB], ['1g', GiB],
      ['32Gb', 32 * GiB], ['32Tb', 32 * TiB], ['32Pb', 32 * PiB], ['32PB', 32 * PiB], ['32P', 32 * PiB],
      ['32.3', 32], ['32.3k', 33075], ['1.5GB', 1.5 * GiB], ['1 KiB', KiB], ['1.5 g', 1.5 * GiB], ['0', 0], ['.5k', 512],
    ];
    for (const [input, expected] of cases) assert.equal(parseBytes(input), expected, input);
  });

  it('reports errors like go-units', () => {
    assert.throws(() => parseBytes(''), { message: "invalid size: ''" });
    assert.throws(() => parseBytes('abc'), { message: "invalid size: 'abc'" });
    assert.throws(() => parseBytes('hello'), { message: "invalid size: 'hello'" });
    assert.throws(() => parseBytes('-32'), { message: "invalid size: '-32'" });
    assert.throws(() => parseBytes('32x'), { message: "invalid suffix: 'x'" });
    assert.throws(() => parseBytes('32kib2'), { message: 'strconv.ParseFloat: parsing "32kib2": invalid syntax' });
    assert.throws(() => parseBytes('32bm'), { message: "invalid suffix: 'bm'" });
    assert.throws(() => parseBytes('32mm'), { message: "invalid suffix: 'mm'" });
    assert.throws(() => parseBytes('32kbb'), { message: "invalid suffix: 'kbb'" });
    assert.throws(() => parseBytes('32kbit'), { message: "invalid suffix: 'kbit'" });
    assert.throws(() => parseBytes(' 32 '), { message: 'strconv.ParseFloat: parsing " 32": invalid syntax' });
    assert.throws(() => parseBytes('32m b'), { message: 'strconv.ParseFloat: parsing "32m": invalid syntax' });
    assert.throws(() => parseBytes('1.2.3'), { message: 'strconv.ParseFloat: parsing "1.2.3": invalid syntax' });
  });
});

describe('parseSize (FromHumanSize)', () => {
  it('uses decimal multipliers', () => {
    const cases: Array<[string, number]> = [
      ['32', 32], ['32b', 32], ['32k', 32_000], ['32kb', 32_000], ['32kB', 32_000], ['32.5kB', 32_500],
      ['32MB', 32e6], ['32Gb', 32e9], ['32Tb', 32e12], ['32Pb', 32e15], ['1e3', 1000], ['1 kB', 1000],
    ];
    for (const [input, expected] of cases) assert.equal(parseSize(input), expected, input);
    assert.throws(() => parseSize('x'), { message: "invalid size: 'x'" });
  });
});

describe('humanSize / bytesSize', () => {
  it('formats decimal sizes with four significant digits', () => {
    const cases: Array<[number, string]> = [
      [0, '0B'], [999, '999B'], [1000, '1kB'], [1024, '1.024kB'], [1500, '1.5kB'], [1_000_000, '1MB'],
      [1_048_576, '1.049MB'], [2e6, '2MB'], [3.42e9, '3.42GB'], [5.372e12, '5.372TB'], [2.22e15, '2.22PB'],
      [1_230_000, '1.23MB'], [4_400_000, '4.4MB'], [187_000_000, '187MB'], [999_950, '1000kB'],
      [1e21, '1ZB'], [1e28, '10000YB'],
    ];
    for (const [input, expected] of cases) assert.equal(humanSize(input), expected, String(input));
  });

  it('formats binary sizes', () => {
    const cases: Array<[number, string]> = [
      [0, '0B'], [1023, '1023B'], [1024, '1KiB'], [1536, '1.5KiB'], [MiB, '1MiB'], [2 * MiB, '2MiB'],
      [3.42 * GiB, '3.42GiB'], [5.372 * TiB, '5.372TiB'], [2.22 * PiB, '2.22PiB'], [1.5 * MiB + 1, '1.5MiB'],
    ];
    for (const [input, expected] of cases) assert.equal(bytesSize(input), expected, String(input));
  });

  it('formatGoG matches fmt %.Ng', () => {
    assert.equal(formatGoG(1.5, 4), '1.5');
    assert.equal(formatGoG(12345, 4), '1.234e+04');
    assert.equal(formatGoG(0.00001234, 4), '1.234e-05');
    assert.equal(formatGoG(0.0001234, 4), '0.0001234');
    assert.equal(formatGoG(120, 4), '120');
    assert.equal(formatGoG(999.95, 4), '1000');
    assert.equal(formatGoG(-2.5, 2), '-2.5');
    assert.equal(formatGoG(0, 4), '0');
  });

  it('formatGoFloat rounds exact halves to even like strconv', () => {
    assert.equal(formatGoFloat(0.25, 'f', 1), '0.2');
    assert.equal(formatGoFloat(0.75, 'f', 1), '0.8');
    assert.equal(formatGoFloat(2.5, 'f', 0), '2');
    assert.equal(formatGoFloat(3.5, 'f', 0), '4');
    assert.equal(formatGoFloat(12345, 'g', 4), '1.234e+04');
    assert.equal(bytesSize(1056), '1.031KiB');
  });

  it('formatGoFloat covers e, f, g and shortest forms', () => {
    assert.equal(formatGoFloat(1234.5678, 'f', 2), '1234.57');
    assert.equal(formatGoFloat(0.001, 'f', 1), '0.0');
    assert.equal(formatGoFloat(1e21, 'f', 0), '1000000000000000000000');
    assert.equal(formatGoFloat(3.14159, 'e', 2), '3.14e+00');
    assert.equal(formatGoFloat(0, 'e', 6), '0.000000e+00');
    assert.equal(formatGoFloat(-1.5, 'e', 1), '-1.5e+00');
    assert.equal(formatGoFloat(1e6, 'g', -1), '1e+06');
    assert.equal(formatGoFloat(123456, 'g', -1), '123456');
    assert.equal(formatGoFloat(1.5e-7, 'g', -1), '1.5e-07');
    assert.equal(formatGoFloat(0.1, 'g', -1), '0.1');
    assert.equal(formatGoFloat(0.000001234, 'f', -1), '0.000001234');
    assert.equal(formatGoFloat(Infinity, 'g', -1), '+Inf');
    assert.equal(formatGoFloat(NaN, 'f', 2), 'NaN');
  });
});

describe('humanDuration', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  it('follows go-units HumanDuration', () => {
    const cases: Array<[number, string]> = [
      [0, 'Less than a second'], [999, 'Less than a second'], [-5 * s, 'Less than a second'], [s, '1 second'],
      [2 * s, '2 seconds'], [47 * s, '47 seconds'], [59 * s, '59 seconds'], [m, 'About a minute'],
      [119 * s, 'About a minute'], [3 * m, '3 minutes'], [59 * m, '59 minutes'], [60 * m, 'About an hour'],
      [89 * m, 'About an hour'], [90 * m, '2 hours'], [2 * h, '2 hours'], [47 * h, '47 hours'],
      [47 * h + 31 * m, '2 days'], [48 * h, '2 days'], [13 * d, '13 days'], [14 * d, '2 weeks'],
      [59 * d, '8 weeks'], [60 * d, '2 months'], [90 * d, '3 months'], [364 * d, '12 months'],
      [2 * 365 * d, '2 years'], [3 * 365 * d + 100 * d, '3 years'],
    ];
    for (const [input, expected] of cases) assert.equal(humanDuration(input), expected, String(input));
  });
});

describe('parseCpus', () => {
  it('converts a rational number of CPUs to NanoCpus', () => {
    assert.equal(parseCpus('1.5'), 1_500_000_000);
    assert.equal(parseCpus('2'), 2_000_000_000);
    assert.equal(parseCpus('0.001'), 1_000_000);
    assert.equal(parseCpus('.5'), 500_000_000);
    assert.equal(parseCpus('3/2'), 1_500_000_000);
    assert.equal(parseCpus('1e-9'), 1);
    assert.equal(parseCpus('0'), 0);
  });

  it('reports errors like docker', () => {
    assert.throws(() => parseCpus('abc'), {
      message: 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number',
    });
    assert.throws(() => parseCpus(''), {
      message: 'invalid argument "" for "--cpus" flag: failed to parse  as a rational number',
    });
    assert.throws(() => parseCpus('0.0000000001'), {
      message: 'invalid argument "0.0000000001" for "--cpus" flag: value is too precise',
    });
    assert.throws(() => parseCpus('1/3'), { message: /value is too precise/ });
  });
});

describe('parseGoDuration', () => {
  it('parses Go durations into milliseconds', () => {
    const cases: Array<[string, number]> = [
      ['0', 0], ['-0', 0], ['1h2m3.5s', 3_723_500], ['300ms', 300], ['1.5h', 5_400_000], ['-1.5h', -5_400_000],
      ['+2s', 2000], ['10m', 600_000], ['1h30m', 5_400_000], ['1us', 0.001], ['1µs', 0.001], ['1μs', 0.001],
      ['1000000ns', 1], ['1.s', 1000], ['.5s', 500],
    ];
    for (const [input, expected] of cases) assert.equal(parseGoDuration(input), expected, input);
  });

  it('reports errors with Go wording', () => {
    assert.throws(() => parseGoDuration(''), { message: 'time: invalid duration ""' });
    assert.throws(() => parseGoDuration('x'), { message: 'time: invalid duration "x"' });
    assert.throws(() => parseGoDuration('.s'), { message: 'time: invalid duration ".s"' });
    assert.throws(() => parseGoDuration('-'), { message: 'time: invalid duration "-"' });
    assert.throws(() => parseGoDuration('1'), { message: 'time: missing unit in duration "1"' });
    assert.throws(() => parseGoDuration('1x'), { message: 'time: unknown unit "x" in duration "1x"' });
    assert.throws(() => parseGoDuration('1d'), { message: 'time: unknown unit "d" in duration "1d"' });
  });
});

describe('toApiTimestamp (GetTimestamp)', () => {
  const now = new Date('2024-05-06T07:08:09.500Z');
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const utc = (value: string): string => toApiTimestamp(value, now, 0);

  it('matches moby GetTimestamp test cases', () => {
    const cases: Array<[string, string]> = [
      ['2006-01-02T15:04:05.999999999+07:00', '1136189045.999999999'],
      ['2006-01-02T15:04:05.999999999Z', '1136214245.999999999'],
      ['2006-01-02T15:04:05.999999999', '1136214245.999999999'],
      ['2006-01-02T15:04:05Z', '1136214245.000000000'],
      ['2006-01-02T15:04:05', '1136214245.000000000'],
      ['2006-01-02T15:04Z', '1136214240.000000000'],
      ['2006-01-02T15:04+00:00', '1136214240.000000000'],
      ['2006-01-02T15:04-00:00', '1136214240.000000000'],
      ['2006-01-02T15:04', '1136214240.000000000'],
      ['2006-01-02T15Z', '1136214000.000000000'],
      ['2006-01-02T15+00:00', '1136214000.000000000'],
      ['2006-01-02T15-00:00', '1136214000.000000000'],
      ['2006-01-02T15', '1136214000.000000000'],
      ['2006-01-02T1Z', '1136163600.000000000'],
      ['2006-01-02T1', '1136163600.000000000'],
      ['2006-01-02+00:00', '1136160000.000000000'],
      ['2006-01-02-00:00', '1136160000.000000000'],
      ['2006-01-02-00:01', '1136160060.000000000'],
      ['2006-01-02Z', '1136160000.000000000'],
      ['2006-01-02', '1136160000.000000000'],
      ['2015-05-13T20:39:09Z', '1431549549.000000000'],
      ['1136073600', '1136073600'],
      ['1136073600.000000001', '1136073600.000000001'],
      ['0', '0'],
    ];
    for (const [input, expected] of cases) assert.equal(utc(input), expected, input);
  });

  it('rejects what moby rejects', () => {
    for (const bad of ['2006-01-02T15:04:0Z', '2006-01-02T15:04:0', '2006-01-02T15:0Z', '2006-01-02T15:0', '2006-01-02TZ', '2006-01-02T', 'invalid', '']) {
      assert.throws(() => utc(bad), Error, bad);
    }
    assert.throws(() => utc('invalid'), { message: 'failed to parse value as time or duration: "invalid"' });
    assert.throws(() => utc('2006-13-02'), { message: 'parsing time "2006-13-02": month out of range' });
    assert.throws(() => utc('2006-02-30'), { message: 'parsing time "2006-02-30": day out of range' });
  });

  it('turns durations into now minus the duration, in whole seconds', () => {
    assert.equal(utc('1m'), String(nowSeconds - 60));
    assert.equal(utc('1.5h'), String(nowSeconds - 5400));
    assert.equal(utc('1h30m'), String(nowSeconds - 5400));
    assert.equal(utc('10s'), String(nowSeconds - 10));
    assert.equal(utc('-10s'), String(nowSeconds + 10));
  });

  it('reads zone-less times in the given local offset', () => {
    assert.equal(toApiTimestamp('2006-01-02T15:04:05', now, 60), '1136210645.000000000');
    assert.equal(toApiTimestamp('2006-01-02', now, -120), '1136167200.000000000');
    assert.equal(toApiTimestamp('2006-01-02T15:04:05Z', now, 60), '1136214245.000000000');
  });

  it('parseDurationOrTimestamp returns seconds as a number', () => {
    assert.equal(parseDurationOrTimestamp('1700000000.5', now), 1700000000.5);
    assert.equal(parseDurationOrTimestamp('2m', now), nowSeconds - 120);
  });
});
