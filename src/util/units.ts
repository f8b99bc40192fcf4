// Size, duration and timestamp conversions with the algorithms and messages of docker/go-units,
// Go's time.ParseDuration and the docker CLI's --cpus / --since / --until handling.

const DECIMAL_UNITS: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
const BINARY_UNITS: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
const DECIMAL_ABBREVIATIONS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_ABBREVIATIONS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function quote(text: string): string {
  return JSON.stringify(text);
}

/** strconv.ParseFloat for the decimal forms people type (no hex floats, no inf/nan). */
function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new Error(`strconv.ParseFloat: parsing ${quote(text)}: invalid syntax`);
  }
  return Number(text);
}

function parseSizeWith(sizeText: string, units: Record<string, number>): number {
  let separator = -1;
  for (let i = sizeText.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(sizeText[i]!)) {
      separator = i;
      break;
    }
  }
  if (separator === -1) throw new Error(`invalid size: '${sizeText}'`);
  const number = sizeText[separator] === ' ' ? sizeText.slice(0, separator) : sizeText.slice(0, separator + 1);
  let suffix = sizeText.slice(separator + 1);
  let size = parseGoFloat(number);
  if (size < 0) throw new Error(`invalid size: '${sizeText}'`);
  if (suffix.length === 0) return Math.trunc(size);
  const badSuffix = (): Error => new Error(`invalid suffix: '${suffix}'`);
  if (suffix.length > 3) throw badSuffix();
  suffix = suffix.toLowerCase();
  if (suffix[0] === 'b') {
    if (suffix.length > 1) throw badSuffix();
    return Math.trunc(size);
  }
  const multiplier = units[suffix[0]!];
  if (multiplier === undefined) throw badSuffix();
  size *= multiplier;
  if ((suffix.length === 2 && suffix[1] !== 'b') || (suffix.length === 3 && suffix.slice(1) !== 'ib')) {
    throw badSuffix();
  }
  return Math.trunc(size);
}

/** go-units RAMInBytes: "512m", "1g", "1.5GB", "100", "1 KiB"; 1k = 1024. */
export function parseBytes(s: string): number {
  return parseSizeWith(s, BINARY_UNITS);
}

/** go-units FromHumanSize: like parseBytes but 1k = 1000. */
export function parseSize(s: string): number {
  return parseSizeWith(s, DECIMAL_UNITS);
}

/** A non-negative finite number as exact decimal digits: value = 0.DIGITS × 10^point (Go's decimal). */
interface Decimal {
  digits: string;
  point: number;
}

function exactDecimal(value: number): Decimal {
  if (value === 0) return { digits: '', point: 0 };
  // toPrecision works on the exact binary value, so 100 digits hold every double we format.
  const [mantissa, exponentText] = value.toPrecision(100).split('e');
  const dot = mantissa!.indexOf('.');
  let digits = mantissa!.replace('.', '');
  let point = (dot === -1 ? mantissa!.length : dot) + Number(exponentText ?? 0);
  const leading = /^0*/.exec(digits)![0].length;
  digits = digits.slice(leading);
  point -= leading;
  return { digits: digits.replace(/0+$/, ''), point };
}

/** Round to `count` significant digits the way strconv does: exact halves go to even. */
function roundDecimal(decimal: Decimal, count: number): Decimal {
  const { digits, point } = decimal;
  if (count < 0) return { digits: '', point: 0 };
  if (count >= digits.length) return decimal;
  const next = digits[count]!;
  const roundUp = next === '5' && count + 1 === digits.length
    ? count > 0 && Number(digits[count - 1]) % 2 === 1
    : next >= '5';
  if (!roundUp) {
    const kept = digits.slice(0, count).replace(/0+$/, '');
    return { digits: kept, point: kept === '' ? 0 : point };
  }
  const kept = digits.slice(0, count).split('');
  let i = kept.length - 1;
  while (i >= 0 && kept[i] === '9') i--;
  if (i < 0) return { digits: '1', point: point + 1 };
  kept[i] = String(Number(kept[i]) + 1);
  return { digits: kept.slice(0, i + 1).join(''), point };
}

function formatE(decimal: Decimal, fractionDigits: number): string {
  const first = decimal.digits[0] ?? '0';
  const rest = decimal.digits.slice(1, fractionDigits + 1).padEnd(fractionDigits, '0');
  const exponent = decimal.digits === '' ? 0 : decimal.point - 1;
  const sign = exponent < 0 ? '-' : '+';
  return `${first}${fractionDigits > 0 ? '.' + rest : ''}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

function formatF(decimal: Decimal, fractionDigits: number): string {
  const { digits, point } = decimal;
  const integer = point > 0 ? digits.slice(0, point).padEnd(point, '0') : '0';
  let fraction = '';
  for (let i = 0; i < fractionDigits; i++) {
    const index = point + i;
    fraction += index >= 0 && index < digits.length ? digits[index] : '0';
  }
  return fractionDigits > 0 ? `${integer}.${fraction}` : integer;
}

/**
 * strconv.FormatFloat(value, format, precision, 64) for formats 'e', 'f' and 'g'; precision -1
 * means the shortest representation that round-trips.
 */
export function formatGoFloat(value: number, format: 'e' | 'f' | 'g', precision: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const magnitude = Math.abs(value);
  const shortest = precision < 0;
  let decimal = exactDecimal(magnitude);
  if (shortest) {
    const [mantissa, exponent] = magnitude.toExponential().split('e');
    const digits = mantissa!.replace('.', '').replace(/0+$/, '');
    decimal = magnitude === 0 ? { digits: '', point: 0 } : { digits, point: Number(exponent) + 1 };
  }
  switch (format) {
    case 'e': {
      if (!shortest) decimal = roundDecimal(decimal, precision + 1);
      return sign + formatE(decimal, shortest ? Math.max(decimal.digits.length - 1, 0) : precision);
    }
    case 'f': {
      if (!shortest) decimal = roundDecimal(decimal, decimal.point + precision);
      return sign + formatF(decimal, shortest ? Math.max(decimal.digits.length - decimal.point, 0) : precision);
    }
    case 'g': {
      let digitsWanted = precision === 0 ? 1 : precision;
      if (!shortest) decimal = roundDecimal(decimal, digitsWanted);
      const count = decimal.digits.length;
      let exponentLimit = digitsWanted;
      if (shortest) {
        digitsWanted = count;
        exponentLimit = 6;
      } else if (exponentLimit > count && count >= decimal.point) {
        exponentLimit = count;
      }
      const exponent = decimal.point - 1;
      if (decimal.digits !== '' && (exponent < -4 || exponent >= exponentLimit)) {
        return sign + formatE(decimal, Math.min(digitsWanted, count) - 1);
      }
      const kept = digitsWanted > decimal.point ? count : digitsWanted;
      return sign + formatF(decimal, Math.max(kept - decimal.point, 0));
    }
  }
}

/** Go's fmt "%.<precision>g". */
export function formatGoG(value: number, precision: number): string {
  return formatGoFloat(value, 'g', precision);
}

function scale(size: number, base: number, abbreviations: string[]): [number, string] {
  let index = 0;
  while (size >= base && index < abbreviations.length - 1) {
    size /= base;
    index++;
  }
  return [size, abbreviations[index]!];
}

/** go-units HumanSize: decimal units, 4 significant digits ("1.23MB", "0B", "1.5kB"). */
export function humanSize(bytes: number): string {
  const [size, unit] = scale(bytes, 1000, DECIMAL_ABBREVIATIONS);
  const text = formatGoG(size, 4);
  // go-units avoids "1e+03MB" for values that round up to 1000.
  return /[eE]/.test(text) ? `${size.toFixed(0)}${unit}` : `${text}${unit}`;
}

/** go-units BytesSize: binary units ("1.5KiB", "2MiB"). */
export function bytesSize(bytes: number): string {
  const [size, unit] = scale(bytes, 1024, BINARY_ABBREVIATIONS);
  return `${formatGoG(size, 4)}${unit}`;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONTH = 30 * DAY;
const YEAR = 365 * DAY;

function roundTo(ms: number, unit: number): number {
  return Math.trunc(ms / unit + 0.5);
}

/** go-units HumanDuration for a duration in milliseconds ("About a minute", "3 hours"). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = roundTo(ms, HOUR);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (ms < 2 * WEEK) return `${roundTo(ms, DAY)} days`;
  if (ms < 2 * MONTH) return `${roundTo(ms, WEEK)} weeks`;
  if (ms < 2 * YEAR) return `${roundTo(ms, MONTH)} months`;
  return `${roundTo(ms, YEAR)} years`;
}

/** Parse a big.Rat literal ("1.5", "3/2", "2e-1") into numerator/denominator. */
function parseRational(text: string): [bigint, bigint] | undefined {
  const fraction = /^([+-]?\d+)\/(\d+)$/.exec(text);
  if (fraction) {
    const denominator = BigInt(fraction[2]!);
    return denominator === 0n ? undefined : [BigInt(fraction[1]!), denominator];
  }
  const decimal = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!decimal) return undefined;
  const [, sign, whole = '', fractional = '', exponentText] = decimal;
  if (whole === '' && fractional === '') return undefined;
  let numerator = BigInt((whole + fractional) || '0');
  let denominator = 10n ** BigInt(fractional.length);
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  if (Math.abs(exponent) > 10000) return undefined;
  if (exponent > 0) numerator *= 10n ** BigInt(exponent);
  else if (exponent < 0) denominator *= 10n ** BigInt(-exponent);
  return [sign === '-' ? -numerator : numerator, denominator];
}

/** docker's --cpus (opts.NanoCPUs): a rational number of CPUs, returned as NanoCpus. */
export function parseCpus(s: string): number {
  const rational = parseRational(s);
  const fail = (reason: string): Error => new Error(`invalid argument ${quote(s)} for "--cpus" flag: ${reason}`);
  if (!rational) throw fail(`failed to parse ${s} as a rational number`);
  const [numerator, denominator] = rational;
  const nano = numerator * 1_000_000_000n;
  if (nano % denominator !== 0n) throw fail('value is too precise');
  return Number(nano / denominator);
}

const DURATION_UNITS_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5
  'μs': 1e3, // U+03BC
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, in milliseconds ("1h2m3.5s", "300ms", "-1.5h"). */
export function parseGoDuration(s: string): number {
  const invalid = (): Error => new Error(`time: invalid duration ${quote(s)}`);
  let rest = s;
  let negative = false;
  if (rest[0] === '-' || rest[0] === '+') {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let totalNs = 0;
  while (rest !== '') {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    const [consumed, whole = '', fraction] = number;
    if (!/^[.0-9]/.test(rest) || (whole === '' && !fraction)) throw invalid();
    rest = rest.slice(consumed.length);
    const unitMatch = /^[^.0-9]*/.exec(rest)![0];
    if (unitMatch === '') throw new Error(`time: missing unit in duration ${quote(s)}`);
    const unitNs = DURATION_UNITS_NS[unitMatch];
    if (unitNs === undefined) throw new Error(`time: unknown unit ${quote(unitMatch)} in duration ${quote(s)}`);
    rest = rest.slice(unitMatch.length);
    totalNs += Number(whole || '0') * unitNs + (fraction ? Number(`0.${fraction}`) * unitNs : 0);
    if (totalNs > 9223372036854775807) throw invalid();
  }
  const ms = totalNs / 1e6;
  return negative ? -ms : ms;
}

/** One layout element of Go's time.Parse, preceded by literal text. */
type LayoutElement = { literal: string; std: 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction' | 'zone' | '' };

const LAYOUTS: Record<string, LayoutElement[]> = {};
function layout(text: string): LayoutElement[] {
  const cached = LAYOUTS[text];
  if (cached) return cached;
  const tokens: Array<[string, LayoutElement['std']]> = [
    ['2006', 'year'], ['01', 'month'], ['02', 'day'], ['15', 'hour'], ['04', 'minute'],
    ['05', 'second'], ['.999999999', 'fraction'], ['Z07:00', 'zone'],
  ];
  const elements: LayoutElement[] = [];
  let literal = '';
  let i = 0;
  outer: while (i < text.length) {
    for (const [token, std] of tokens) {
      if (text.startsWith(token, i)) {
        elements.push({ literal, std });
        literal = '';
        i += token.length;
        continue outer;
      }
    }
    literal += text[i++];
  }
  if (literal) elements.push({ literal, std: '' });
  LAYOUTS[text] = elements;
  return elements;
}

const STD_TEXT: Record<LayoutElement['std'], string> = {
  year: '2006', month: '01', day: '02', hour: '15', minute: '04', second: '05', fraction: '.999999999', zone: 'Z07:00', '': '',
};

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Go's time.Parse for the layouts GetTimestamp uses; returns [unix seconds, nanoseconds]. */
function parseTime(layoutText: string, value: string, defaultOffsetSeconds: number): [number, number] {
  let rest = value;
  const parts = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, nanos: 0 };
  let offsetSeconds = defaultOffsetSeconds;
  const cannotParse = (layoutElement: string): Error =>
    new Error(`parsing time ${quote(value)} as ${quote(layoutText)}: cannot parse ${quote(rest)} as ${quote(layoutElement)}`);
  const outOfRange = (what: string): Error => new Error(`parsing time ${quote(value)}: ${what} out of range`);
  const digits = (min: number, max: number, element: string): number => {
    const match = new RegExp(`^\\d{${min},${max}}`).exec(rest);
    if (!match) throw cannotParse(element);
    rest = rest.slice(match[0].length);
    return Number(match[0]);
  };
  const elements = layout(layoutText);
  for (let index = 0; index < elements.length; index++) {
    const { literal, std } = elements[index]!;
    if (!rest.startsWith(literal)) throw cannotParse(literal);
    rest = rest.slice(literal.length);
    const stdText = STD_TEXT[std];
    switch (std) {
      case 'year':
        parts.year = digits(4, 4, stdText);
        break;
      case 'month':
        parts.month = digits(2, 2, stdText);
        if (parts.month < 1 || parts.month > 12) throw outOfRange('month');
        break;
      case 'day':
        parts.day = digits(2, 2, stdText);
        break;
      case 'hour':
        parts.hour = digits(1, 2, stdText);
        if (parts.hour > 23) throw outOfRange('hour');
        break;
      case 'minute':
        parts.minute = digits(2, 2, stdText);
        if (parts.minute > 59) throw outOfRange('minute');
        break;
      case 'second': {
        parts.second = digits(2, 2, stdText);
        if (parts.second > 59) throw outOfRange('second');
        // Go accepts a fractional second even when the layout has none.
        const next = elements[index + 1];
        const fraction = /^[.,](\d+)/.exec(rest);
        if (fraction && next?.std !== 'fraction') {
          parts.nanos = Number(fraction[1]!.slice(0, 9).padEnd(9, '0'));
          rest = rest.slice(fraction[0].length);
        }
        break;
      }
      case 'fraction': {
        const fraction = /^[.,](\d+)/.exec(rest);
        if (fraction) {
          parts.nanos = Number(fraction[1]!.slice(0, 9).padEnd(9, '0'));
          rest = rest.slice(fraction[0].length);
        }
        break;
      }
      case 'zone': {
        if (rest.startsWith('Z')) {
          offsetSeconds = 0;
          rest = rest.slice(1);
          break;
        }
        const zone = /^([+-])(\d\d):(\d\d)/.exec(rest);
        if (!zone) throw cannotParse(stdText);
        const sign = zone[1] === '-' ? -1 : 1;
        offsetSeconds = sign * (Number(zone[2]) * 3600 + Number(zone[3]) * 60);
        rest = rest.slice(zone[0].length);
        break;
      }
      default:
        break;
    }
  }
  if (rest !== '') throw new Error(`parsing time ${quote(value)}: extra text: ${quote(rest)}`);
  if (parts.day < 1 || parts.day > daysIn(parts.month, parts.year)) throw outOfRange('day');
  const date = new Date(0);
  date.setUTCFullYear(parts.year, parts.month - 1, parts.day);
  date.setUTCHours(parts.hour, parts.minute, parts.second, 0);
  return [date.getTime() / 1000 - offsetSeconds, parts.nanos];
}

/** Is the text a unix timestamp "sec" or "sec.frac" as the daemon accepts (parseTimestamp)? */
function isUnixTimestamp(text: string): boolean {
  const [seconds, fraction] = text.split(/\.(.*)/s, 2);
  const goInt = /^[+-]?\d+$/;
  return goInt.test(seconds ?? '') && (fraction === undefined || goInt.test(fraction));
}

/**
 * docker's GetTimestamp for --since/--until: a Go duration before `now`, an RFC 3339 date/time
 * (possibly partial; without a zone it is in local time), or unix seconds. Returns the string the
 * API expects ("1700000000" or "1700000000.000000000").
 * @param utcOffsetMinutes offset of the local zone; defaults to the process zone at `now`.
 */
export function toApiTimestamp(s: string, now: Date, utcOffsetMinutes = -now.getTimezoneOffset()): string {
  if (s !== '0') {
    let durationMs: number | undefined;
    try {
      durationMs = parseGoDuration(s);
    } catch {
      durationMs = undefined;
    }
    if (durationMs !== undefined) return String(Math.floor((now.getTime() - durationMs) / 1000));
  }
  const parseInLocation = !/[zZ+]/.test(s) && s.split('-').length - 1 !== 3;
  let format: string;
  if (s.includes('.')) {
    format = parseInLocation ? '2006-01-02T15:04:05.999999999' : '2006-01-02T15:04:05.999999999Z07:00';
  } else if (s.includes('T')) {
    let colons = s.split(':').length - 1;
    if (!parseInLocation && !/[zZ]/.test(s) && colons > 0) colons--;
    const zone = parseInLocation ? '' : 'Z07:00';
    format = colons === 0 ? `2006-01-02T15${zone}` : colons === 1 ? `2006-01-02T15:04${zone}` : `2006-01-02T15:04:05${zone}`;
  } else {
    format = parseInLocation ? '2006-01-02' : '2006-01-02Z07:00';
  }
  try {
    const [seconds, nanos] = parseTime(format, s, utcOffsetMinutes * 60);
    return `${seconds}.${String(nanos).padStart(9, '0')}`;
  } catch (err) {
    if (s.includes('-')) throw err;
    if (!isUnixTimestamp(s)) throw new Error(`failed to parse value as time or duration: ${quote(s)}`);
    return s;
  }
}

/** toApiTimestamp as a number of seconds (fractional part = nanoseconds). */
export function parseDurationOrTimestamp(s: string, now: Date): number {
  return Number(toApiTimestamp(s, now));
}
