/**
 * A small XML writer for the set-up documents: elements with attributes and
 * text, every value escaped (XML 1.0 §2.4 character data, §3.1 attribute
 * values), indented two spaces. Characters XML 1.0 cannot carry (§2.2) are
 * dropped rather than producing a document clients refuse.
 */

/** An element: its name, attributes and either text or child elements. */
export interface XmlElement {
  name: string;
  attributes?: Readonly<Record<string, string>>;
  content: string | readonly XmlElement[];
}

/** Shorthand for an element. */
export function el(name: string, content: string | readonly XmlElement[], attributes?: Readonly<Record<string, string>>): XmlElement {
  return attributes === undefined ? { name, content } : { name, content, attributes };
}

// XML 1.0 §2.2 Char: tab, LF, CR and U+0020 upwards except surrogates and U+FFFE/U+FFFF.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeXml(text: string): string {
  return text.replace(NOT_XML_CHAR, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function render(element: XmlElement, depth: number, out: string[]): void {
  const indent = '  '.repeat(depth);
  const attributes = Object.entries(element.attributes ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  if (typeof element.content === 'string') {
    out.push(`${indent}<${element.name}${attributes}>${escapeXml(element.content)}</${element.name}>`);
    return;
  }
  if (element.content.length === 0) {
    out.push(`${indent}<${element.name}${attributes}/>`);
    return;
  }
  out.push(`${indent}<${element.name}${attributes}>`);
  for (const child of element.content) render(child, depth + 1, out);
  out.push(`${indent}</${element.name}>`);
}

/** A whole document: the XML declaration, optional doctype line, the root element. */
export function xmlDocument(root: XmlElement, doctype?: string): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  if (doctype !== undefined) out.push(doctype);
  render(root, 0, out);
  return `${out.join('\n')}\n`;
}
