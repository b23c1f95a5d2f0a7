/**
 * COMPRESS=DEFLATE (RFC 4978): after the tagged OK both directions are raw
 * DEFLATE streams, which saves mobile clients most of their traffic.
 */
import { no } from '../errors.js';
import { ParseError } from '../wire/reader.js';
import { command } from './spec.js';

/** RFC 4978 §3 — COMPRESS. */
export const compress = command({
  name: 'COMPRESS',
  states: ['authenticated', 'selected'],
  sync: 'none',
  parse(r) {
    r.sp();
    const mechanism = r.atom().toUpperCase();
    if (mechanism !== 'DEFLATE') throw new ParseError(`Unknown compression mechanism ${mechanism}`);
  },
  async run(inv) {
    if (inv.session.compressed) throw no('COMPRESSIONACTIVE', 'DEFLATE is already active');
    // The tagged OK goes out uncompressed; everything after it is compressed.
    inv.session.write(Buffer.from(`${inv.tag} OK DEFLATE active\r\n`));
    await inv.session.startCompression();
    return { answered: true };
  },
});
