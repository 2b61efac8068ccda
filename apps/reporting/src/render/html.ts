import type { AnnualStatistics, Figures, Grouping } from '../domain/statistics.js';
import { deviationChart, monthlyChart, rankingChart, shareChart } from './charts.js';
import { CITY } from '@enforcement/reference-data';
import {
  cityTime,
  column,
  COLUMNS,
  displayName,
  GROUPING_HEADS,
  GROUPING_TITLES,
  labelParts,
  THEMES,
} from './columns.js';

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fmt = (f: Figures, field: keyof Figures) => column(field).format(f[field] as number);

/** A header cell: the Chinese term over the English one. */
const head = (label: string) => {
  const { zh, en } = labelParts(label);
  return `<th scope="col"><span class="zh">${escape(zh)}</span>${en ? `<span class="en">${escape(en)}</span>` : ''}</th>`;
};

/**
 * Rows in the order a reader looks for them: ranked groups best first, then
 * the unranked by cases registered; months in calendar order.
 */
export function ordered(grouping: Exclude<Grouping, 'NONE'>, rows: readonly Figures[]): Figures[] {
  if (grouping === 'MONTH') return [...rows];
  return [...rows].sort(
    (a, b) =>
      (a.rank || Infinity) - (b.rank || Infinity) ||
      b.casesRegistered - a.casesRegistered ||
      displayName(grouping, a.key).localeCompare(displayName(grouping, b.key), 'zh-CN'),
  );
}

/** One grouping's figures as a table per theme, each narrow enough for a page. */
function tables(grouping: Exclude<Grouping, 'NONE'>, rows: readonly Figures[], n: number): string {
  const sorted = ordered(grouping, rows);
  const ranked = grouping !== 'MONTH';
  const rankColumn = column('rank');
  const themed = THEMES.map((theme) => {
    const columns = theme.fields.map(column);
    const body = sorted
      .map(
        (f) =>
          `<tr><th scope="row">${escape(displayName(grouping, f.key))}</th>${
            ranked ? `<td>${escape(rankColumn.format(f.rank))}</td>` : ''
          }${columns.map((c) => `<td>${escape(c.format(f[c.field] as number))}</td>`).join('')}</tr>`,
      )
      .join('\n');
    return `<div class="theme"><h3>${escape(theme.title)}</h3>
<div class="scroll"><table class="${theme.id}"><thead><tr>${head(GROUPING_HEADS[grouping])}${
      ranked ? head(rankColumn.label) : ''
    }${columns.map((c) => head(c.label)).join('')}</tr></thead><tbody>
${body}
</tbody></table></div></div>`;
  });
  return `<section class="group" id="${grouping.toLowerCase()}"><h2>${n}. ${escape(GROUPING_TITLES[grouping])}</h2>
${themed.join('\n')}
</section>`;
}

function card(label: string, value: string, note = ''): string {
  return `<div class="card"><div class="value">${escape(value)}</div><div class="label">${escape(label)}</div>${
    note ? `<div class="note">${escape(note)}</div>` : ''
  }</div>`;
}

/** What moment the figures are taken at, and on which clock, in the report's words. */
export function basisLine(s: AnnualStatistics): { zh: string; en: string } {
  const asOf = cityTime(s.asOfMs);
  if (s.basis === 'OCCURRED')
    return {
      zh: `按发生时间统计：截至 ${asOf} 已发生的事项，以 ${cityTime(s.recordedThroughMs)} 前记录的为准（事件位置 ${s.position}）`,
      en: `By when things happened: acts that happened by ${asOf}, as recorded by ${cityTime(s.recordedThroughMs)} (event position ${s.position})`,
    };
  return {
    zh: `按记录时间统计：截至 ${asOf} 已记录的事项（事件位置 ${s.position}）`,
    en: `By when things were recorded: acts recorded by ${asOf} (event position ${s.position})`,
  };
}

/** The annual report as one self-contained page: headline figures, charts, tables. */
export function renderHtml(s: AnnualStatistics, digest: string, issuer = ''): string {
  const office = issuer || CITY.supervisionOffice;
  const o = s.overall;
  const months = s.groups.MONTH;
  const agencies = [...s.groups.AGENCY];
  const scored = agencies.filter((a) => a.rank > 0).sort((a, b) => a.rank - b.rank);
  // Agencies' scores sit within a point or two of each other: shown as their
  // difference from the city's mean, each labelled with its value.
  const agencyChart =
    scored.length > 0
      ? deviationChart(
          'agencies',
          `执法部门平均得分与全市平均（${o.meanScore.toFixed(2)}）之差 Agencies' mean score against the city's`,
          scored.map((a) => displayName('AGENCY', a.key)),
          scored.map((a) => a.meanScore),
          o.meanScore,
          '分 points',
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
    card('处罚决定 Penalties', fmt(o, 'penalties'), `罚款 ${fmt(o, 'penaltyTotalFen')} 万元`),
    card('裁量异常 Discretion anomalies', fmt(o, 'discretionAnomalies')),
    card(
      '督办 Supervision orders',
      fmt(o, 'ordersOpened'),
      `按时答复 ${fmt(o, 'ordersAnsweredOnTime')} · 升级 ${fmt(o, 'ordersEscalated')} · 待答复 ${fmt(o, 'ordersAwaiting')}`,
    ),
    card(
      '行政复议 Reconsiderations accepted',
      fmt(o, 'reconsiderationsAccepted'),
      `审结 ${fmt(o, 'reconsiderationsConcluded')} · 纠错 ${fmt(o, 'reconsiderationsCorrected')} (${fmt(o, 'correctionRate')})`,
    ),
    card('平均得分 Mean evaluation score', fmt(o, 'meanScore')),
  ];
  const basis = basisLine(s);
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
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif; color: var(--ink); background: var(--bg); }
  .cover { background: var(--accent); color: #fff; padding: 36px 40px 28px; }
  .cover .city { margin: 0; font-size: 15px; letter-spacing: .2em; opacity: .85; }
  .cover h1 { margin: 6px 0 2px; font-size: 30px; letter-spacing: .05em; }
  .cover .en { margin: 0 0 18px; font-size: 16px; opacity: .85; }
  .cover dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 13px; }
  .cover dt { opacity: .75; }
  .cover dd { margin: 0; }
  .cover .issuer { font-size: 17px; font-weight: 600; margin: 18px 0 0; }
  .cover nav { display: none; }
  main { max-width: 1180px; margin: 0 auto; padding: 24px 40px 48px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 14px; margin-bottom: 28px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; break-inside: avoid; }
  .card .value { font-size: 26px; font-weight: 700; color: var(--accent); font-variant-numeric: tabular-nums; }
  .card .label { font-size: 13px; color: var(--muted); }
  .card .note { font-size: 12px; color: var(--muted); margin-top: 4px; }
  .charts { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 28px; }
  .chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; break-inside: avoid; max-width: 100%; }
  .chart svg { display: block; max-width: 100%; height: auto; }
  section { margin-bottom: 28px; }
  h2 { font-size: 19px; border-left: 4px solid var(--accent); padding-left: 10px; }
  h3 { font-size: 15px; margin: 18px 0 8px; color: var(--accent); }
  .scroll { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
  table { border-collapse: collapse; font-size: 13px; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
  thead th { background: #eef2f7; font-weight: 600; vertical-align: bottom; white-space: normal; }
  thead th .zh, thead th .en { display: block; }
  thead th .en { font-weight: 400; font-size: 11px; color: var(--muted); }
  thead th:first-child, tbody th { text-align: left; }
  tbody th { font-weight: 500; white-space: normal; }
  tbody tr:hover { background: #f3f7fc; }
  .notes dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; font-size: 13px; }
  .notes dt { font-weight: 600; }
  .notes dd { margin: 0; color: var(--muted); }
  .notes p { font-size: 13px; color: var(--muted); }
  footer { font-size: 12px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 12px; word-break: break-all; }
  @page { size: A4; margin: 16mm 13mm 16mm; @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #5b6b7c; } }
  @page :first { @bottom-center { content: none; } }
  @media print {
    body { background: #fff; font-size: 10pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
    .cover { color: var(--ink); background: #fff; height: 250mm; padding: 60mm 8mm 0; break-after: page; border-top: 6mm solid var(--accent); }
    .cover .city { letter-spacing: .4em; color: var(--muted); }
    .cover h1 { font-size: 28pt; color: var(--accent); }
    .cover .en { font-size: 13pt; color: var(--muted); margin-bottom: 30mm; }
    .cover dl { font-size: 10pt; }
    .cover dt { color: var(--muted); opacity: 1; }
    .cover .issuer { font-size: 15pt; margin-top: 30mm; }
    .cover nav { display: block; margin-top: 12mm; font-size: 10pt; color: var(--muted); }
    .cover nav ol { margin: 4px 0 0; padding-left: 18px; }
    main { max-width: none; padding: 0; }
    .cards { grid-template-columns: repeat(3, 1fr); gap: 3mm; }
    .card { padding: 2.5mm 3mm; }
    .card .value { font-size: 15pt; }
    .charts { justify-content: center; gap: 2mm 6mm; }
    .chart { border: none; padding: 0; margin: 0 0 3mm; }
    .chart.share { width: 86mm; }
    .theme { break-inside: avoid; }
    section.group { break-before: page; }
    section.notes { break-before: page; }
    h2 { font-size: 14pt; break-after: avoid; }
    h3 { font-size: 11pt; break-after: avoid; }
    .scroll { overflow: visible; border: none; border-radius: 0; }
    table { font-size: 8.5pt; }
    th, td { padding: 1.2mm 1.6mm; }
    thead { display: table-header-group; }
    tr { break-inside: avoid; }
    tbody tr:hover { background: none; }
    thead th .en { font-size: 7pt; }
  }
</style>
</head>
<body>
<header class="cover">
  <p class="city">${escape(CITY.name)}</p>
  <h1>${s.year} 年度行政执法统计报告</h1>
  <p class="en">Annual administrative enforcement statistics, ${s.year}</p>
  <dl>
    <dt>统计口径 Basis</dt><dd>${escape(basis.zh)}<br>${escape(basis.en)}</dd>
    <dt>统计年度 Year</dt><dd>${s.year} 年 1 月 1 日至 12 月 31 日（北京时间） · January 1 to December 31, Beijing time</dd>
    <dt>数据摘要 Digest</dt><dd><code>${digest.slice(0, 16)}…</code></dd>
  </dl>
  <p class="issuer">${escape(office)}</p>
  <nav><strong>目录 Contents</strong><ol>
    <li>主要数据与图表 Headline figures and charts</li>
    ${(['AGENCY', 'DISTRICT', 'DOMAIN', 'MONTH'] as const).map((g) => `<li>${escape(GROUPING_TITLES[g])}</li>`).join('\n    ')}
    <li>说明 Notes</li>
  </ol></nav>
</header>
<main>
<section id="headline">
<h2>1. 主要数据 Headline figures</h2>
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
<div class="chart share">${shareChart('reviews', '行政复议审结 Reconsiderations concluded', [
    { name: '纠错 corrected', value: o.reconsiderationsCorrected },
    {
      name: '未纠错 other',
      value: o.reconsiderationsConcluded - o.reconsiderationsCorrected,
    },
  ])}</div>
<div class="chart share">${shareChart('orders', '督办答复 Supervision orders', [
    { name: '按时答复 on time', value: o.ordersAnsweredOnTime },
    { name: '升级 escalated', value: o.ordersEscalated },
    { name: '待答复 awaiting', value: o.ordersAwaiting },
    {
      name: '逾期 late',
      value: Math.max(
        0,
        o.ordersOpened - o.ordersAnsweredOnTime - o.ordersEscalated - o.ordersAwaiting,
      ),
    },
  ])}</div>
</div>
</section>
${tables('AGENCY', s.groups.AGENCY, 2)}
${tables('DISTRICT', s.groups.DISTRICT, 3)}
${tables('DOMAIN', s.groups.DOMAIN, 4)}
${tables('MONTH', s.groups.MONTH, 5)}
<section class="notes">
<h2>6. 说明 Notes</h2>
<p>${escape(basis.zh)}。统计年度按北京时间（UTC+8）的日历年计。每项数据计入定义它的日期所在的年度（按月份时计入该月）；按部门、县区、领域时计入案件所属分组（复议计入被申请部门及原决定的县区、领域）。${
    s.basis === 'OCCURRED'
      ? '按发生时间统计时，迟报的事项计入其发生之时；此后记录的事项不计入。'
      : '按记录时间统计时，迟报的事项自记录之时起计入。'
  }各部门、县区、领域按平均得分排名，表格按名次排列，未评查的排在最后。
${escape(basis.en)}. A year is the calendar year in Beijing time. Each figure counts in the year (and month) of the date that defines it, and in the case’s group. ${
    s.basis === 'OCCURRED'
      ? 'On this basis an act reported late counts from when it happened; acts recorded after the moment above are left out.'
      : 'On this basis an act reported late counts from when it was recorded.'
  } Agencies, districts and domains are ranked by mean score; tables list them by rank, the unranked last.</p>
<dl>
${notes}
</dl>
</section>
<footer>
  <p>${escape(office)} · 摘要 Digest (SHA-256 of the figures): <code>${digest}</code>. 持有相同事件者得到相同摘要。Anyone holding the same events gets the same digest.</p>
</footer>
</main>
</body>
</html>
`;
}
