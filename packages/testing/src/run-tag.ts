import { randomBytes } from 'node:crypto';

/** Hex digits of a run's tag in every name `uniqueName` gives. */
export const RUN_TAG_LENGTH = 4;

/** The tag of names made outside a vitest run: no run deletes what they name. */
export const NO_RUN = '0'.repeat(RUN_TAG_LENGTH);

/** A new run's tag: never NO_RUN. */
export function newRunTag(): string {
  for (;;) {
    const tag = randomBytes(RUN_TAG_LENGTH / 2).toString('hex');
    if (tag !== NO_RUN) return tag;
  }
}

/** A name of the run tagged `tag` that nothing else uses: `<prefix>-<time, base 36>-<tag><6 hex digits>`. */
export function taggedName(prefix: string, tag: string): string {
  return `${prefix}-${Date.now().toString(36)}-${tag}${randomBytes(3).toString('hex')}`;
}

/**
 * Whether `topic` holds a name `taggedName` gave the run tagged `tag`,
 * whatever the topic adds around it (a namespace's topics are
 * `<name>.<topic>`) and with its dashes made underscores.
 */
export function runsTopic(topic: string, tag: string): boolean {
  return new RegExp(`[-_][0-9a-z]{6,}[-_]${tag}[0-9a-f]{6}(?![0-9a-f])`).test(topic);
}
