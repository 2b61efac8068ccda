import { agencyName, CITY_UTC_OFFSET_MS, DOMAIN_NAMES } from '@enforcement/reference-data';
import type { Figures, Grouping } from '../domain/statistics.js';
import { domainKey } from '../domain/statistics.js';

export interface Column {
  readonly field: keyof Figures;
  readonly label: string;
  readonly format: (v: number) => string;
  /** What the figure counts, as the report's notes (说明) print it. */
  readonly definition: string;
}

const count = (v: number) => v.toLocaleString('en-US');
const percent = (v: number) => `${(v * 100).toFixed(1)}%`;
const days = (v: number) => v.toFixed(1);
/** Fines in 万元 (ten thousand yuan), two decimals, as Chinese statistical tables give them. */
export const wanYuan = (fen: number) =>
  (fen / 1_000_000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
// Two decimals: ranks are decided on them, so a reader can see why two groups differ.
const score = (v: number) => (v === 0 ? '—' : v.toFixed(2));
const rank = (v: number) => (v === 0 ? '—' : String(v));

/** Every figure, in report order, with its label and definition (the annual report's terms). */
export const COLUMNS: readonly Column[] = [
  {
    field: 'casesRegistered',
    label: '立案 Registered',
    format: count,
    definition: '年内立案的执法案件数。Enforcement cases registered in the year.',
  },
  {
    field: 'casesConcluded',
    label: '结案 Concluded',
    format: count,
    definition:
      '年内结案的执法案件数（无论何时立案）。Enforcement cases concluded in the year, whenever registered.',
  },
  {
    field: 'closureRateInYear',
    label: '年内结案率 Closed in year',
    format: percent,
    definition:
      '年内立案且在同年结案的案件占年内立案数的比例。Of the cases registered in the year, the share concluded within the same year.',
  },
  {
    field: 'onTimeRate',
    label: '按期结案率 On time',
    format: percent,
    definition:
      '年内结案的案件中，在法定期限（90 日或经批准延长）内结案的比例。Of the cases concluded in the year, the share concluded by their statutory deadline (90 days, or as extended).',
  },
  {
    field: 'closureRate',
    label: '累计结案率 Closed by as-of',
    format: percent,
    definition:
      '年内立案的案件中，截至统计时点已结案的比例（含次年结案）。Of the cases registered in the year, the share concluded by the as-of moment, however late.',
  },
  {
    field: 'meanHandlingDays',
    label: '平均办案天数 Mean days',
    format: days,
    definition:
      '年内结案案件从立案到结案的日历天数的平均值。Mean calendar days from registration to conclusion, over the cases concluded in the year.',
  },
  {
    field: 'p90HandlingDays',
    label: 'P90 天数 P90 days',
    format: days,
    definition: '同上，第 90 百分位数（最近秩）。The same, 90th percentile by nearest rank.',
  },
  {
    field: 'overdueCases',
    label: '超期 Overdue',
    format: count,
    definition:
      '法定期限在年内届满、届满前未结案的案件数，计入期限届满的月份。Cases whose statutory deadline falls in the year and passed before their conclusion (or with the case still open at the as-of moment); counted in the deadline’s month.',
  },
  {
    field: 'penalties',
    label: '处罚决定 Penalties',
    format: count,
    definition: '年内作出的行政处罚决定数。Penalty decisions made in the year.',
  },
  {
    field: 'penaltyTotalFen',
    label: '罚款（万元） Fines (¥10k)',
    format: wanYuan,
    definition:
      '上述处罚决定的罚款合计，单位万元。The fines of those decisions, in ten thousands of yuan.',
  },
  {
    field: 'discretionAnomalies',
    label: '裁量异常 Discretion anomalies',
    format: count,
    definition:
      '罚款超出裁量基准范围，或处于边界而未说明理由的处罚决定数。Decisions outside the published discretion benchmark for their grade, or at its edge without grounds.',
  },
  {
    field: 'ordersOpened',
    label: '督办 Orders opened',
    format: count,
    definition: '年内开出的督办单数。Supervision orders opened in the year.',
  },
  {
    field: 'ordersAnsweredOnTime',
    label: '按时答复 Answered on time',
    format: count,
    definition:
      '其中在答复期限内答复且未升级的督办单数。Of those, answered by their response deadline and never escalated.',
  },
  {
    field: 'ordersEscalated',
    label: '升级督办 Escalated',
    format: count,
    definition: '其中至少升级一次的督办单数。Of those, escalated at least once.',
  },
  {
    field: 'ordersAwaiting',
    label: '待答复 Awaiting answer',
    format: count,
    definition:
      '其中截至统计时点既未答复也未升级、答复期限尚未届满的督办单数；其余为逾期答复或逾期未答。Of those, neither answered nor escalated by the moment of the figures, their response deadline still ahead; the rest were answered late or are past their deadline unanswered.',
  },
  {
    field: 'reconsiderationsAccepted',
    label: '复议受理 Reconsiderations accepted',
    format: count,
    definition:
      '年内受理的行政复议数（不含诉讼）。Reconsiderations (not litigation) accepted in the year.',
  },
  {
    field: 'reconsiderationsConcluded',
    label: '复议审结 Concluded',
    format: count,
    definition: '年内审结的行政复议数。Reconsiderations concluded in the year.',
  },
  {
    field: 'reconsiderationsCorrected',
    label: '复议纠错 Corrected',
    format: count,
    definition:
      '其中撤销、变更、确认违法或责令履行的。Of those, concluded with a correction (revoked, changed, confirmed illegal, ordered to perform).',
  },
  {
    field: 'correctionRate',
    label: '纠错率 Correction rate',
    format: percent,
    definition: '纠错数 ÷ 审结数。Corrected ÷ concluded.',
  },
  {
    field: 'meanScore',
    label: '平均得分 Mean score',
    format: score,
    definition:
      '年内结案案件最近一次评查得分的平均值（百分制）。The latest evaluation of each case concluded in the year, averaged (out of 100).',
  },
  {
    field: 'rank',
    label: '排名 Rank',
    format: rank,
    definition:
      '按平均得分由高到低；同分同名次；无评查案件的不排名。Groups by mean score, best first; equal scores share a rank; groups without evaluated cases are not ranked.',
  },
];

/** The column of a figure. */
export function column(field: keyof Figures): Column {
  const c = COLUMNS.find((x) => x.field === field);
  if (!c) throw new Error(`no column ${field}`);
  return c;
}

/** A column's label in its two languages: the Chinese term, then the English. */
export function labelParts(label: string): { zh: string; en: string } {
  const i = label.indexOf(' ');
  return i < 0 ? { zh: label, en: '' } : { zh: label.slice(0, i), en: label.slice(i + 1) };
}

/** The figures a table shows together: each theme fits a page's width. */
export const THEMES: readonly { id: string; title: string; fields: readonly (keyof Figures)[] }[] =
  [
    {
      id: 'handling',
      title: '案件办理 Case handling',
      fields: [
        'casesRegistered',
        'casesConcluded',
        'closureRateInYear',
        'onTimeRate',
        'closureRate',
        'meanHandlingDays',
        'p90HandlingDays',
        'overdueCases',
      ],
    },
    {
      id: 'penalties',
      title: '处罚与督办 Penalties and supervision',
      fields: [
        'penalties',
        'penaltyTotalFen',
        'discretionAnomalies',
        'ordersOpened',
        'ordersAnsweredOnTime',
        'ordersEscalated',
        'ordersAwaiting',
      ],
    },
    {
      id: 'reviews',
      title: '复议与评查 Reconsideration and evaluation',
      fields: [
        'reconsiderationsAccepted',
        'reconsiderationsConcluded',
        'reconsiderationsCorrected',
        'correctionRate',
        'meanScore',
      ],
    },
  ];

/** A moment as the city reads it: Beijing time, to the second. */
export function cityTime(ms: number): string {
  return `${new Date(ms + CITY_UTC_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ')} 北京时间 (UTC+8)`;
}

const DOMAIN_BY_KEY = new Map(
  Object.entries(DOMAIN_NAMES).map(([n, name]) => [domainKey(Number(n)), name]),
);

/** The name people read for a group key. */
export function displayName(grouping: Grouping, key: string): string {
  switch (grouping) {
    case 'AGENCY':
      return agencyName(key);
    case 'DOMAIN':
      return DOMAIN_BY_KEY.get(key) ?? key;
    case 'NONE':
      return '全市 City';
    default:
      return key;
  }
}

/** The header of a table's first column, naming what each row is. */
export const GROUPING_HEADS: Record<Exclude<Grouping, 'NONE'>, string> = {
  AGENCY: '执法部门 Agency',
  DISTRICT: '县区 District',
  DOMAIN: '领域 Domain',
  MONTH: '月份 Month',
};

export const GROUPING_TITLES: Record<Exclude<Grouping, 'NONE'>, string> = {
  AGENCY: '按执法部门 By agency',
  DISTRICT: '按县区 By district',
  DOMAIN: '按执法领域 By domain',
  MONTH: '按月份 By month',
};
