/**
 * The report as text for people: one line per check (✓ / ! / ✗), a line of
 * advice under every problem, and a closing verdict with the exact settings
 * to type into the client.
 */
import type { CheckStatus } from './check.js';
import type { ClientSettings, DoctorReport } from './doctor.js';

const MARK: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗' };

/** The full text report, ending with a newline. */
export function renderText(report: DoctorReport): string {
  const out: string[] = [`mailkeep doctor ${report.target}`];
  for (const section of report.sections) {
    out.push('', section.title);
    for (const c of section.checks) {
      out.push(`  ${MARK[c.status]} ${c.text}`);
      if (c.advice) out.push(`    → ${c.advice}`);
    }
  }
  out.push('', ...verdict(report));
  return `${out.join('\n')}\n`;
}

function verdict(report: DoctorReport): string[] {
  const lines: string[] = [];
  const warned = report.warnings > 0 ? ` (${report.warnings} warning${report.warnings === 1 ? '' : 's'} above)` : '';
  if (report.failures === 0) lines.push(`Verdict: everything works${warned}. Set up your client with:`);
  else {
    const problems = `${report.failures} problem${report.failures === 1 ? '' : 's'} found: fix the ✗ lines above`;
    lines.push(report.settings.length > 0 ? `Verdict: ${problems}. These settings work meanwhile:` : `Verdict: ${problems}. No port works for a client yet.`);
  }
  const best = bestPerProtocol(report.settings);
  for (const s of best) lines.push(...settingsLines(s));
  return lines;
}

/** The best working port of IMAP and of POP3 (settings arrive sorted best first). */
function bestPerProtocol(settings: ClientSettings[]): ClientSettings[] {
  return settings.filter((s, i) => settings.findIndex((t) => t.protocol === s.protocol) === i);
}

function settingsLines(s: ClientSettings): string[] {
  return [
    `  Incoming mail (${s.protocol}): server ${s.server}, port ${s.port}, connection security ${s.security},`,
    `    user name ${s.user ?? '(your account name)'}, authentication "normal password"`,
  ];
}
