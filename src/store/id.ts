import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base 32: no I, L, O, U
const RANDOM_BITS = 80n;
const RANDOM_LIMIT = 1n << RANDOM_BITS;

function base32(value: bigint, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/**
 * Makes ids that sort by creation time (ULID's layout: 10 characters of milliseconds, 16 of
 * randomness). Ids from one generator strictly increase even within a millisecond or when the
 * clock steps back, because the random part is then incremented instead of drawn again; ids from
 * different processes only differ by their random part.
 */
export function idGenerator(now: () => number = Date.now): () => string {
  let lastTime = -1;
  let lastRandom = 0n;
  return () => {
    let time = now();
    let random: bigint;
    if (time <= lastTime) {
      time = lastTime;
      random = lastRandom + 1n;
      if (random === RANDOM_LIMIT) {
        time += 1;
        random = 0n;
      }
    } else {
      random = BigInt(`0x${randomBytes(10).toString('hex')}`);
    }
    lastTime = time;
    lastRandom = random;
    return base32(BigInt(time), 10) + base32(random, 16);
  };
}
