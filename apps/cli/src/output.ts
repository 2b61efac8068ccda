/** Text for people, or one JSON document per run with --json. */
export const print = (json: unknown, text: string, asJson: unknown) =>
  process.stdout.write(asJson ? `${JSON.stringify(json)}\n` : `${text}\n`);

/** An address option's value, or its default. */
export const address = (v: Record<string, unknown>, name: string, fallback: string) =>
  typeof v[name] === 'string' ? (v[name] as string) : fallback;

/** A remark for the person at the terminal: on stderr, so stdout stays the data. */
export const note = (text: string) => process.stderr.write(`${text}\n`);
