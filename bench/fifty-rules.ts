// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/** The 50-rule Sieve script the benchmarks run per message (bench/sieve-rules.ts, bench/lmtp-delivery.ts --sieve-rules). */
/** Fifty rules of the kinds people write: folders by sender, list, subject, flags, spam, body words. */
export function fiftyRules(): string {
  const rules: string[] = [
    'require ["fileinto", "imap4flags", "variables", "relational", "comparator-i;ascii-numeric", "body", "subaddress", "regex", "envelope", "mailbox", "date"];',
  ];
  for (let i = 0; i < 10; i++) rules.push(`if address :domain :is "from" "sender${i}.example" { fileinto "Senders/${i}"; stop; }`);
  for (let i = 0; i < 10; i++) rules.push(`if header :contains "list-id" "list${i}.example.org" { fileinto "Lists/${i}"; stop; }`);
  for (let i = 0; i < 10; i++) rules.push(`if header :matches "subject" "*[ticket-${i}*]*" { addflag "ticket"; set "t" "\${2}"; }`);
  for (let i = 0; i < 5; i++) rules.push(`if header :regex "subject" "^(re|fwd?): .*project-${i}$" { addflag "project${i}"; }`);
  for (let i = 0; i < 5; i++) rules.push(`if envelope :detail "to" "tag${i}" { fileinto "Tags/${i}"; }`);
  for (let i = 0; i < 5; i++) rules.push(`if body :text :contains "unsubscribe-${i}" { addflag "bulk"; }`);
  rules.push('if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "Junk"; stop; }');
  rules.push('if header :count "gt" :comparator "i;ascii-numeric" "received" "20" { addflag "hops"; }');
  rules.push('if date :value "lt" :originalzone "date" "year" "2000" { addflag "old"; }');
  rules.push('if exists "x-priority" { addflag "\\\\Flagged"; }');
  rules.push('if size :over 1M { addflag "big"; }');
  return rules.join('\n');
}
