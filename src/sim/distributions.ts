/**
 * Random times (compute times, inter-arrival gaps) as scenarios state them: a number of ms, or a distribution
 * by its mean and spread. Samplers draw from a seeded uniform source, so a run is reproducible.
 */
import { z } from 'zod';
import { gaussian } from '../util/random.js';

const ms = (what: string) => z.number({ error: `${what} must be a number of ms` }).nonnegative(`${what} must be >= 0 ms`);

export const distSchema = z.union([
  ms('a time'),
  z.object({ dist: z.literal('fixed'), ms: ms('ms') }).strict(),
  /** Normal, truncated at 0 (redrawn while negative). */
  z.object({ dist: z.literal('normal'), mean: ms('mean'), sd: ms('sd') }).strict(),
  /** Log-normal with this mean and standard deviation (of the time itself, not of its log). */
  z.object({ dist: z.literal('lognormal'), mean: z.number().positive('mean must be > 0 ms'), sd: ms('sd') }).strict(),
  z.object({ dist: z.literal('exponential'), mean: ms('mean') }).strict(),
  z
    .object({ dist: z.literal('uniform'), min: ms('min'), max: ms('max') })
    .strict()
    .refine((u) => u.max >= u.min, { message: 'max must be >= min' }),
]);

export type DistConfig = z.infer<typeof distSchema>;

export type Dist =
  | { kind: 'fixed'; ms: number }
  | { kind: 'normal'; mean: number; sd: number }
  | { kind: 'lognormal'; mean: number; sd: number }
  | { kind: 'exponential'; mean: number }
  | { kind: 'uniform'; min: number; max: number };

export const fixed = (ms: number): Dist => ({ kind: 'fixed', ms });

export function toDist(c: DistConfig): Dist {
  if (typeof c === 'number') return fixed(c);
  const { dist, ...rest } = c;
  return { kind: dist, ...rest } as Dist;
}

export function distMean(d: Dist): number {
  switch (d.kind) {
    case 'fixed':
      return d.ms;
    case 'uniform':
      return (d.min + d.max) / 2;
    default:
      return d.mean;
  }
}

export function sampler(d: Dist): (rand: () => number) => number {
  switch (d.kind) {
    case 'fixed':
      return () => d.ms;
    case 'uniform':
      return (rand) => d.min + (d.max - d.min) * rand();
    case 'exponential':
      return (rand) => -d.mean * Math.log(1 - rand());
    case 'normal':
      return (rand) => {
        if (d.sd === 0) return d.mean;
        for (;;) {
          const x = d.mean + d.sd * gaussian(rand);
          if (x >= 0) return x;
        }
      };
    case 'lognormal': {
      const s2 = Math.log(1 + (d.sd / d.mean) ** 2);
      const mu = Math.log(d.mean) - s2 / 2;
      const s = Math.sqrt(s2);
      return (rand) => Math.exp(mu + s * gaussian(rand));
    }
  }
}
