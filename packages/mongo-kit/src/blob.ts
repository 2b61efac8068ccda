import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Binary } from 'mongodb';

/**
 * JSON text stored as one compressed binary value (raw DEFLATE, fastest
 * level). A packed page read or rewritten as one value costs the local
 * server (FerretDB, which converts every document between BSON and JSON)
 * by its bytes, and JSON pages shrink about sixfold.
 */
export const deflatedJson = (json: string): Binary =>
  new Binary(deflateRawSync(Buffer.from(json), { level: 1 }));

/** The JSON text `deflatedJson` stored. */
export const inflatedJson = (b: Binary): string =>
  inflateRawSync(Buffer.from(b.buffer)).toString('utf8');
