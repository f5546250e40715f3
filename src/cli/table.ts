/** Tables for the CLI (and the number formats every output shares). */
import Table from 'cli-table3';

export { fmtBytes, fmtCount, fmtFraction, fmtInt, fmtMs, fmtPercent, fmtShape, fmtSignedPercent } from '../util/format.js';

export function table(head: string[], rows: (string | number)[][], align?: ('left' | 'right')[]): string {
  const t = new Table({
    head,
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    // borderless, like kubectl or docker: wide tables stay readable in a terminal
    chars: Object.fromEntries(['top', 'top-mid', 'top-left', 'top-right', 'bottom', 'bottom-mid', 'bottom-left', 'bottom-right', 'left', 'left-mid', 'mid', 'mid-mid', 'right', 'right-mid', 'middle'].map((k) => [k, ''])),
    ...(align ? { colAligns: align } : {}),
  });
  for (const r of rows) t.push(r.map(String));
  return t.toString();
}
