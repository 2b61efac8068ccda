import type { AnnualStatistics, Figures, Grouping } from '../domain/statistics.js';
import { monthlyChart, rankingChart, shareChart } from './charts.js';
import { cityTime, COLUMNS, displayName, GROUPING_TITLES } from './columns.js';

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const byField = (field: keyof Figures) => {
  const c = COLUMNS.find((x) => x.field === field);
  if (!c) throw new Error(`no column ${field}`);
  return c;
};
const fmt = (f: Figures, field: keyof Figures) => byField(field).format(f[field] as number);

function table(grouping: Exclude<Grouping, 'NONE'>, rows: readonly Figures[]): string {
  const head = COLUMNS.map((c) => `<th>${escape(c.label)}</th>`).join('');
  const body = rows
    .map(
      (f) =>
        `<tr><th scope="row">${escape(displayName(grouping, f.key))}</th>${COLUMNS.map(
          (c) => `<td>${escape(c.format(f[c.field] as number))}</td>`,
        ).join('')}</tr>`,
    )
    .join('\n');
  return `<section><h2>${escape(GROUPING_TITLES[grouping])}</h2>
<div class="scroll"><table><thead><tr><th></th>${head}</tr></thead><tbody>
${body}
</tbody></table></div></section>`;
}

function card(label: string, value: string, note = ''): string {
  return `<div class="card"><div class="value">${escape(value)}</div><div class="label">${escape(label)}</div>${
    note ? `<div class="note">${escape(note)}</div>` : ''
  }</div>`;
}

/** The annual report as one self-contained page: headline figures, charts, tables. */
export function renderHtml(s: AnnualStatistics, digest: string): string {
  const o = s.overall;
  const months = s.groups.MONTH;
  const agencies = [...s.groups.AGENCY];
  const scored = agencies.filter((a) => a.rank > 0).sort((a, b) => a.rank - b.rank);
  const agencyChart =
    scored.length > 0
      ? rankingChart(
          'agencies',
          '执法部门平均得分排名 Agencies by mean score',
          scored.map((a) => displayName('AGENCY', a.key)),
          scored.map((a) => a.meanScore),
          '分 points',
          100,
        )
      : rankingChart(
          'agencies',
          '执法部门年内结案率 Agencies by share closed in year',
          agencies.map((a) => displayName('AGENCY', a.key)),
          agencies.map((a) => Math.round(a.closureRateInYear * 1000) / 10),
          '%',
          100,
        );
  const districts = [...s.groups.DISTRICT].sort((a, b) => b.casesRegistered - a.casesRegistered);
  const cards = [
    card('立案 Cases registered', fmt(o, 'casesRegistered')),
    card(
      '结案 Cases concluded',
      fmt(o, 'casesConcluded'),
      `年内结案率 ${fmt(o, 'closureRateInYear')} · 按期 ${fmt(o, 'onTimeRate')} · 累计 ${fmt(o, 'closureRate')}`,
    ),
    card(
      '平均办案天数 Mean handling days',
      fmt(o, 'meanHandlingDays'),
      `P90 ${fmt(o, 'p90HandlingDays')}`,
    ),
    card('超期 Overdue cases', fmt(o, 'overdueCases')),
    card('处罚决定 Penalties', fmt(o, 'penalties'), `罚款 ${fmt(o, 'penaltyTotalFen')}`),
    card('裁量异常 Discretion anomalies', fmt(o, 'discretionAnomalies')),
    card(
      '督办 Supervision orders',
      fmt(o, 'ordersOpened'),
      `按时答复 ${fmt(o, 'ordersAnsweredOnTime')} · 升级 ${fmt(o, 'ordersEscalated')}`,
    ),
    card(
      '行政复议 Reconsiderations accepted',
      fmt(o, 'reconsiderationsAccepted'),
      `审结 ${fmt(o, 'reconsiderationsConcluded')} · 纠错 ${fmt(o, 'reconsiderationsCorrected')} (${fmt(o, 'correctionRate')})`,
    ),
    card('平均得分 Mean evaluation score', fmt(o, 'meanScore')),
  ];
  const asOf = cityTime(s.asOfMs);
  const notes = COLUMNS.map(
    (c) => `<dt>${escape(c.label)}</dt><dd>${escape(c.definition)}</dd>`,
  ).join('\n');
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${s.year} 年度行政执法统计 · Annual enforcement statistics</title>
<style>
  :root { --ink: #1d2733; --muted: #5b6b7c; --line: #dde3ea; --accent: #1f5aa6; --bg: #f6f8fb; }
  body { margin: 0; font: 15px/1.5 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif; color: var(--ink); background: var(--bg); }
  header { background: var(--accent); color: #fff; padding: 28px 40px 20px; }
  header h1 { margin: 0 0 6px; font-size: 26px; }
  header p { margin: 0; opacity: .85; font-size: 13px; }
  main { max-width: 1180px; margin: 0 auto; padding: 24px 40px 48px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 14px; margin-bottom: 28px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  .card .value { font-size: 26px; font-weight: 700; color: var(--accent); }
  .card .label { font-size: 13px; color: var(--muted); }
  .card .note { font-size: 12px; color: var(--muted); margin-top: 4px; }
  .charts { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 28px; }
  .chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
  section { margin-bottom: 28px; }
  h2 { font-size: 18px; border-left: 4px solid var(--accent); padding-left: 10px; }
  .scroll { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
  table { border-collapse: collapse; font-size: 13px; white-space: nowrap; }
  th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right; }
  thead th { background: #eef2f7; font-weight: 600; position: sticky; top: 0; }
  tbody th { text-align: left; font-weight: 500; }
  tbody tr:hover { background: #f3f7fc; }
  .notes dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; font-size: 13px; }
  .notes dt { font-weight: 600; }
  .notes dd { margin: 0; color: var(--muted); }
  .notes p { font-size: 13px; color: var(--muted); }
  footer { font-size: 12px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 12px; word-break: break-all; }
</style>
</head>
<body>
<header>
  <h1>${s.year} 年度行政执法统计 · Annual enforcement statistics</h1>
  <p>截至 As of ${escape(asOf)} · 事件位置 Event position ${s.position}</p>
</header>
<main>
<div class="cards">
${cards.join('\n')}
</div>
<div class="charts">
<div class="chart">${monthlyChart(
    months.map((m) => m.key),
    [
      { name: '立案 registered', values: months.map((m) => m.casesRegistered) },
      { name: '结案 concluded', values: months.map((m) => m.casesConcluded) },
    ],
    { name: '超期 overdue', values: months.map((m) => m.overdueCases) },
  )}</div>
<div class="chart">${agencyChart}</div>
<div class="chart">${rankingChart(
    'districts',
    '各县区立案数 Cases registered by district',
    districts.map((d) => d.key),
    districts.map((d) => d.casesRegistered),
    '件 cases',
  )}</div>
<div class="chart">${shareChart('reviews', '行政复议审结 Reconsiderations concluded', [
    { name: '纠错 corrected', value: o.reconsiderationsCorrected },
    {
      name: '未纠错 other',
      value: o.reconsiderationsConcluded - o.reconsiderationsCorrected,
    },
  ])}</div>
<div class="chart">${shareChart('orders', '督办答复 Supervision orders', [
    { name: '按时答复 on time', value: o.ordersAnsweredOnTime },
    { name: '升级 escalated', value: o.ordersEscalated },
    {
      name: '逾期或未答 late/open',
      value: Math.max(0, o.ordersOpened - o.ordersAnsweredOnTime - o.ordersEscalated),
    },
  ])}</div>
</div>
${table('AGENCY', s.groups.AGENCY)}
${table('DISTRICT', s.groups.DISTRICT)}
${table('DOMAIN', s.groups.DOMAIN)}
${table('MONTH', s.groups.MONTH)}
<section class="notes">
<h2>说明 Notes</h2>
<p>统计年度按北京时间（UTC+8）的日历年计。每项数据计入定义它的日期所在的年度（按月份时计入该月）；按部门、县区、领域时计入案件所属分组（复议计入被申请部门及原决定的县区、领域）。本报告统计截至 ${escape(asOf)}（事件位置 ${s.position}）已记录的全部案件事件：迟报的事项自记录之时起计入。
A year is the calendar year in Beijing time. Each figure counts in the year (and month) of the date that defines it, and in the case’s group. The report counts every case event recorded by ${escape(asOf)} (event position ${s.position}): an act reported late counts from when it was recorded.</p>
<dl>
${notes}
</dl>
</section>
<footer>
  <p>摘要 Digest (SHA-256 of the figures): <code>${digest}</code>. 持有相同事件者得到相同摘要。Anyone holding the same events gets the same digest.</p>
</footer>
</main>
</body>
</html>
`;
}
