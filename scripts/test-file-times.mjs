// A node:test reporter: seconds per test file, slowest first (the sum of the file's top-level tests;
// Node 20's TAP has no per-file entry). Use beside another reporter:
//   node --test --test-reporter=spec --test-reporter-destination=stdout \
//     --test-reporter=./scripts/test-file-times.mjs --test-reporter-destination=/tmp/times.txt <files>
export default async function* fileTimes(source) {
  const perFile = new Map();
  for await (const { type, data } of source) {
    if ((type === 'test:pass' || type === 'test:fail') && data.nesting === 0 && data.file) {
      const f = perFile.get(data.file) ?? { ms: 0, failed: false };
      f.ms += data.details.duration_ms ?? 0;
      f.failed ||= type === 'test:fail';
      perFile.set(data.file, f);
    }
  }
  const rows = [...perFile].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, f]) => s + f.ms, 0);
  for (const [file, f] of rows) yield `${(f.ms / 1000).toFixed(1).padStart(7)} s  ${f.failed ? 'FAIL ' : ''}${file.replace(`${process.cwd()}/`, '')}\n`;
  yield `${(total / 1000).toFixed(1).padStart(7)} s  total of ${rows.length} files (sequential sum)\n`;
}
