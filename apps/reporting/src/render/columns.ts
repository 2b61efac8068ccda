import { agencyName, DOMAIN_NAMES } from '@enforcement/reference-data';
import type { Figures, Grouping } from '../domain/statistics.js';
import { domainKey } from '../domain/statistics.js';

export interface Column {
  readonly field: keyof Figures;
  readonly label: string;
  readonly format: (v: number) => string;
}

const count = (v: number) => v.toLocaleString('en-US');
const percent = (v: number) => `${(v * 100).toFixed(1)}%`;
const days = (v: number) => v.toFixed(1);
const yuan = (fen: number) =>
  `¥${(fen / 100).toLocaleString('en-US', { maximumFractionDigits: 0 })}`;
const score = (v: number) => (v === 0 ? '—' : v.toFixed(2));
const rank = (v: number) => (v === 0 ? '—' : String(v));

/** Every figure, in report order, with its label (the annual report's terms). */
export const COLUMNS: readonly Column[] = [
  { field: 'casesRegistered', label: '立案 Registered', format: count },
  { field: 'casesConcluded', label: '结案 Concluded', format: count },
  { field: 'closureRate', label: '结案率 Closure rate', format: percent },
  { field: 'meanHandlingDays', label: '平均办案天数 Mean days', format: days },
  { field: 'p90HandlingDays', label: 'P90 天数 P90 days', format: days },
  { field: 'overdueCases', label: '超期 Overdue', format: count },
  { field: 'penalties', label: '处罚决定 Penalties', format: count },
  { field: 'penaltyTotalFen', label: '罚款总额 Fines', format: yuan },
  { field: 'discretionAnomalies', label: '裁量异常 Discretion anomalies', format: count },
  { field: 'ordersOpened', label: '督办 Orders opened', format: count },
  { field: 'ordersAnsweredOnTime', label: '按时答复 Answered on time', format: count },
  { field: 'ordersEscalated', label: '升级督办 Escalated', format: count },
  { field: 'reconsiderationsAccepted', label: '复议受理 Reconsiderations accepted', format: count },
  { field: 'reconsiderationsConcluded', label: '复议审结 Concluded', format: count },
  { field: 'reconsiderationsCorrected', label: '复议纠错 Corrected', format: count },
  { field: 'correctionRate', label: '纠错率 Correction rate', format: percent },
  { field: 'meanScore', label: '平均得分 Mean score', format: score },
  { field: 'rank', label: '排名 Rank', format: rank },
];

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

export const GROUPING_TITLES: Record<Exclude<Grouping, 'NONE'>, string> = {
  AGENCY: '按执法部门 By agency',
  DISTRICT: '按县区 By district',
  DOMAIN: '按执法领域 By domain',
  MONTH: '按月份 By month',
};
