import type { AnnualStatistics, Figures, Grouping } from '../domain/statistics.js';
import { digestOf } from '../domain/statistics.js';
import { stringify } from 'csv-stringify/sync';
import {
  column,
  COLUMNS,
  displayName,
  GROUPING_HEADS,
  GROUPING_TITLES,
  THEMES,
} from './columns.js';
import { basisLine, ordered, renderHtml } from './html.js';

export type Format = 'JSON' | 'CSV' | 'MARKDOWN' | 'HTML';

export interface Rendered {
  readonly content: Buffer;
  readonly contentType: string;
  readonly digest: string;
}

const GROUPS = ['AGENCY', 'DISTRICT', 'DOMAIN', 'MONTH'] as const;

/** The annual report in one format. Same statistics, same bytes: nothing in it depends on when it was rendered. */
export function render(s: AnnualStatistics, format: Format, issuer = ''): Rendered {
  const digest = digestOf(s, 'ALL');
  switch (format) {
    case 'JSON':
      return {
        content: Buffer.from(
          `${JSON.stringify(
            {
              year: s.year,
              asOf: new Date(s.asOfMs).toISOString(),
              basis: s.basis,
              recordedThrough: new Date(s.recordedThroughMs).toISOString(),
              position: s.position,
              digest,
              overall: s.overall,
              groups: s.groups,
            },
            null,
            2,
          )}\n`,
        ),
        contentType: 'application/json',
        digest,
      };
    case 'CSV':
      return { content: Buffer.from(csv(s)), contentType: 'text/csv; charset=utf-8', digest };
    case 'MARKDOWN':
      return {
        content: Buffer.from(markdown(s, digest)),
        contentType: 'text/markdown; charset=utf-8',
        digest,
      };
    case 'HTML':
      return {
        content: Buffer.from(renderHtml(s, digest, issuer)),
        contentType: 'text/html; charset=utf-8',
        digest,
      };
  }
}

/**
 * One row per group, every figure a column named by its field. UTF-8 with a
 * byte-order mark, so that Excel on a Chinese Windows desktop reads the names
 * as UTF-8, not as GBK. A name is the agencies' text (a district as they
 * registered it): one that starts like a formula (`=`, `+`, `-`, `@`) gets a
 * leading `'`, so that a spreadsheet shows it rather than runs it.
 */
function csv(s: AnnualStatistics): string {
  const header = ['year', 'grouping', 'key', 'name', ...COLUMNS.map((c) => c.field)];
  const rows: (string | number)[][] = [];
  const row = (grouping: Grouping, f: AnnualStatistics['overall']) =>
    rows.push([
      s.year,
      grouping,
      f.key,
      displayName(grouping, f.key),
      ...COLUMNS.map((c) => f[c.field]),
    ]);
  row('NONE', s.overall);
  for (const g of GROUPS) for (const f of s.groups[g]) row(g, f);
  return stringify(rows, {
    header: true,
    columns: header,
    bom: true,
    record_delimiter: 'unix',
    escape_formulas: true,
  });
}

/** A name in a Markdown table's cell: a `|` in it would end the cell. */
const cell = (text: string) => text.replace(/\|/g, '\\|');

function markdown(s: AnnualStatistics, digest: string): string {
  const o = s.overall;
  const head = COLUMNS.filter((c) => c.field !== 'rank');
  const basis = basisLine(s);
  const table = (g: Exclude<Grouping, 'NONE'>, fields: readonly (keyof Figures)[]) => {
    const columns = [...(g === 'MONTH' ? [] : ['rank' as const]), ...fields].map(column);
    return [
      `| ${GROUPING_HEADS[g]} | ${columns.map((c) => c.label).join(' | ')} |`,
      `| --- | ${columns.map(() => '---:').join(' | ')} |`,
      ...ordered(g, s.groups[g]).map(
        (f) =>
          `| ${cell(displayName(g, f.key))} | ${columns.map((c) => c.format(f[c.field] as number)).join(' | ')} |`,
      ),
    ].join('\n');
  };
  return [
    `# ${s.year} 年度行政执法统计报告 Annual enforcement statistics`,
    '',
    `${basis.zh}`,
    `${basis.en}`,
    '',
    `摘要 digest \`${digest}\``,
    '',
    '## 主要数据 Headline figures',
    '',
    ...head.map((c) => `- ${c.label}: **${c.format(o[c.field] as number)}**`),
    '',
    ...GROUPS.flatMap((g) => [
      `## ${GROUPING_TITLES[g]}`,
      '',
      ...THEMES.flatMap((t) => [`### ${t.title}`, '', table(g, t.fields), '']),
    ]),
    '## 说明 Notes',
    '',
    ...COLUMNS.map((c) => `- **${c.label}**: ${c.definition}`),
    '',
  ].join('\n');
}
