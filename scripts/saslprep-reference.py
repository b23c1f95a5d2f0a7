#!/usr/bin/env python3
"""Writes test/fixtures/saslprep/reference.json: SASLprep (RFC 4013) answers of an independent implementation,
Python's `stringprep` tables with Unicode 3.2.0's own NFKC (unicodedata.ucd_3_2_0), for test/auth-saslprep.test.ts.

  python3 scripts/saslprep-reference.py > test/fixtures/saslprep/reference.json

Queries with characters unassigned in 3.2 are left out: NFKC there is the runtime's (src/auth/saslprep.ts).
"""
import json
import random
import stringprep as sp
import unicodedata

UCD = unicodedata.ucd_3_2_0
PROHIBITED = [sp.in_table_c12, sp.in_table_c21, sp.in_table_c22, sp.in_table_c3, sp.in_table_c4,
              sp.in_table_c5, sp.in_table_c6, sp.in_table_c7, sp.in_table_c8, sp.in_table_c9]


def saslprep(s, stored):
    m = ''.join(' ' if sp.in_table_c12(c) else '' if sp.in_table_b1(c) else c for c in s)
    m = UCD.normalize('NFKC', m)
    if any(f(c) for c in m for f in PROHIBITED):
        return None, 'prohibited'
    if any(sp.in_table_d1(c) for c in m) and (any(sp.in_table_d2(c) for c in m) or not (sp.in_table_d1(m[0]) and sp.in_table_d1(m[-1]))):
        return None, 'bidi'
    if stored and any(sp.in_table_a1(c) for c in s):
        return None, 'unassigned'
    return m, None


# ASCII, Latin, Hebrew and Arabic, general punctuation and spaces, number forms, ligatures and
# presentation forms, variation selectors, fullwidth forms, and a few prohibited and unassigned ones.
RANGES = [(0x20, 0x7e), (0xa0, 0x24f), (0x590, 0x6ff), (0x2000, 0x206f), (0x2150, 0x218f), (0xfb00, 0xfb4f),
          (0xfe00, 0xfe0f), (0xff00, 0xff5f)]
POOL = [chr(c) for a, b in RANGES for c in range(a, b + 1)] + [chr(c) for c in (
    0x1680, 0x3000, 0x34f, 0x1806, 0x7, 0x85, 0xe000, 0xfdd0, 0x2ff0, 0xe0001, 0x221, 0x1f600)]

random.seed(4013)
cases = []
while len(cases) < 1500:
    s = ''.join(random.choice(POOL) for _ in range(random.randint(1, 6)))
    # With a code point unassigned in 3.2 only the stored answer is checked (a later NFKC may change it in a query).
    unassigned = any(sp.in_table_a1(c) for c in s)
    cases.append([s, list(saslprep(s, True)), None if unassigned else list(saslprep(s, False))])
print(json.dumps(cases, ensure_ascii=True, separators=(',', ':')))
