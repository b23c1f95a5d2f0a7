/**
 * What MIME analysis produces at ingestion and the store keeps beside the
 * bytes (DESIGN invariant 3). FETCH and SEARCH read only this, never re-parse.
 * All offsets are byte offsets into the stored message, which is never changed.
 */

/** One node of the part tree, with the byte ranges FETCH BODY[section] needs. */
export interface PartIndex {
  /** Offset of the first header byte (0 for the message itself). */
  hs: number;
  /** Offset of the first body byte: just after the blank line ending the header (or == end when there is none). */
  bs: number;
  /** Offset just past the last body byte. */
  be: number;
  /** Lower-case media type and subtype, after defaults (text/plain, or message/rfc822 inside multipart/digest). */
  type: string;
  subtype: string;
  /** Lower-case Content-Transfer-Encoding ('7bit' when absent). */
  encoding: string;
  /** Lower-case charset parameter when present. */
  charset?: string;
  /** Multipart children in order; for message/rfc822 and message/global exactly one child: the encapsulated message. */
  parts?: PartIndex[];
}

/** Everything derived from a message's bytes once, at ingestion. */
export interface MessageAnalysis {
  /** The part tree (root = the whole message). */
  root: PartIndex;
  /** Pre-encoded ENVELOPE value, a parenthesized list in IMAP syntax (RFC 9051 §7.5.2), valid in IMAP4rev1 mode. */
  envelope: Buffer;
  /** Pre-encoded BODYSTRUCTURE value with extension data. */
  bodyStructure: Buffer;
  /** Pre-encoded BODY value (BODYSTRUCTURE without extension data). */
  body: Buffer;
  /** Date header parsed to epoch ms (for SENTBEFORE/SENTON/SENTSINCE and SORT DATE); null when absent or unparseable. */
  sentDate: number | null;
  /** Decoded (RFC 2047, charset-converted) header fields for SEARCH and SORT, name lower-cased, in order; capped in size. */
  headers: Array<[name: string, value: string]>;
  /** Decoded text of the body parts (text/* after transfer and charset decoding), for SEARCH BODY/TEXT; capped in size. */
  bodyText: string;
}
