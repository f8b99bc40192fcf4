// Random container names in Docker's "adjective_surname" style, from our own word lists.
import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'agile', 'bold', 'brave', 'bright', 'calm', 'clever', 'cool', 'crisp', 'daring', 'eager',
  'fair', 'fancy', 'fast', 'fond', 'gentle', 'glad', 'happy', 'hardy', 'keen', 'kind',
  'lively', 'lucid', 'merry', 'mellow', 'modest', 'neat', 'nimble', 'noble', 'patient', 'plucky',
  'proud', 'quick', 'quiet', 'rapid', 'ready', 'serene', 'sharp', 'sleek', 'smart', 'snappy',
  'steady', 'sturdy', 'sunny', 'swift', 'tidy', 'trusty', 'vivid', 'warm', 'wise', 'zesty',
];

const SURNAMES = [
  'babbage', 'bartik', 'bose', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'faraday', 'fermi',
  'franklin', 'galileo', 'gauss', 'goldberg', 'hamilton', 'hawking', 'hopper', 'hypatia', 'johnson', 'kepler',
  'knuth', 'lamarr', 'lovelace', 'maxwell', 'meitner', 'mirzakhani', 'newton', 'noether', 'pascal', 'pasteur',
  'planck', 'ramanujan', 'ritchie', 'sammet', 'shannon', 'somerville', 'tesla', 'thompson', 'torvalds', 'turing',
  'volta', 'wilson', 'wozniak', 'wright', 'yalow', 'yonath', 'zuse', 'archimedes', 'banach', 'cori',
];

export function randomName(retry = 0): string {
  const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
  return retry > 0 ? `${base}${randomInt(10)}` : base;
}

/** Docker's rule for user-given names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
