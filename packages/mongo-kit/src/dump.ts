import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { BSON, type Document } from 'mongodb';

/** What one dumped collection file holds, and its SHA-256 to verify it by. */
export interface DumpedFile {
  readonly documents: number;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Writes documents (a cursor, or a generator over several) to a new `file` as
 * concatenated BSON, the format of `mongodump`'s `<collection>.bson` (so
 * `bsondump` and `mongorestore` read it too), hashing as it goes. Leaving the
 * loop, by the end or an error, closes the cursors behind `docs`.
 */
export async function dumpDocuments(
  docs: AsyncIterable<Document>,
  file: string,
): Promise<DumpedFile> {
  const out = createWriteStream(file, { flags: 'wx' });
  const hash = createHash('sha256');
  let documents = 0;
  let bytes = 0;
  try {
    for await (const doc of docs) {
      const raw = BSON.serialize(doc);
      hash.update(raw);
      documents++;
      bytes += raw.length;
      if (!out.write(raw)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { documents, bytes, sha256: hash.digest('hex') };
}

/** SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** BSON documents larger than this are refused as corrupt (the server's own limit is 16 MiB). */
const MAX_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024;

/**
 * The documents of a concatenated-BSON file, in order, `batch` at a time.
 * A truncated file, or a length prefix no document can have, is an error
 * that names the file and the byte offset.
 */
export async function* readBson(file: string, batch = 500): AsyncGenerator<Document[]> {
  let pending: Buffer = Buffer.alloc(0);
  let offset = 0;
  let docs: Document[] = [];
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    let at = 0;
    while (pending.length - at >= 4) {
      const size = pending.readInt32LE(at);
      if (size < 5 || size > MAX_DOCUMENT)
        throw new Error(`${file}: no BSON document at byte ${offset + at} (length ${size})`);
      if (pending.length - at < size) break;
      docs.push(BSON.deserialize(pending.subarray(at, at + size)));
      at += size;
      if (docs.length >= batch) {
        yield docs;
        docs = [];
      }
    }
    offset += at;
    pending = pending.subarray(at);
  }
  if (pending.length > 0)
    throw new Error(`${file}: ends inside a document at byte ${offset} (truncated)`);
  if (docs.length > 0) yield docs;
}
