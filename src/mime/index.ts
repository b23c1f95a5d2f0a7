/** Public API of the MIME analyzer: ingestion-time analysis and the helpers FETCH and SEARCH use. */
export { MessageAnalyzer, analyzeMessage, DEFAULT_LIMITS, type AnalyzerLimits } from './analyze.js';
export { findPart, sectionRange, isMessagePart, type SectionText } from './section.js';
export { decodeTransferEncoding } from './transfer-encoding.js';
export { decodeHeaderValue } from './encoded-words.js';
export { decodeCharset } from './charset.js';
export { parseDate } from './date.js';
export type { MessageAnalysis, PartIndex } from './types.js';
