import { Link } from 'react-router-dom';
import { Alert, Breadcrumb, Button, Select, Space, Switch, Tag, Typography } from 'antd';
import { count, decimal, moment, money, percent, TONE } from '../format.js';
import { get } from '../api.js';
import { numeric } from '../columns.js';
import { WideTable } from '../table.js';
import { useI18n } from '../i18n.js';
import { useReference } from '../reference.js';
import type {
  CaseSummary,
  CasesPage,
  Me,
  ScoreRow,
  ScoresPage,
  Statistics,
  YearFigures,
} from '../types.js';
import { useApi } from '../use-api.js';
import { useParam, useSetParams } from './controls.js';

const INDICATORS = [
  'timeliness',
  'procedure',
  'discretion',
  'evidence',
  'supervision_response',
  'correction',
];

/** Each level and the one a row drills into, with the filter the row's key becomes. */
const NEXT: Record<
  string,
  { groupBy: string; filter: 'district' | 'agency' | 'officer' } | undefined
> = {
  DISTRICT: { groupBy: 'AGENCY', filter: 'district' },
  AGENCY: { groupBy: 'UNIT', filter: 'agency' },
  UNIT: { groupBy: 'OFFICER', filter: 'agency' },
  OFFICER: { groupBy: 'CASE', filter: 'officer' },
  DOMAIN: undefined,
};

function periods(kind: string, year: number): string[] {
  if (kind === 'MONTH')
    return Array.from({ length: 12 }, (_, i) => `${year}-${String(i + 1).padStart(2, '0')}`);
  if (kind === 'QUARTER') return [1, 2, 3, 4].map((q) => `${year}-Q${q}`);
  return [String(year)];
}

/** Rankings with drill-down: district → agency → unit → officer, by month, quarter or year. */
export function Rankings({ me }: { me: Me }) {
  const { t, lang, name } = useI18n();
  const { agencyName } = useReference();
  const [groupBy, setGroupBy] = useParam('groupBy', me.can.report ? 'DISTRICT' : 'UNIT');
  const [periodKind] = useParam('periodKind', 'YEAR');
  const [period, setPeriod] = useParam('period', String(me.defaultYear));
  const [district] = useParam('district');
  const [agency] = useParam('agency', me.can.report ? '' : (me.agencies[0] ?? ''));
  const [officer] = useParam('officer');
  const [ascending, setAscending] = useParam('ascending');
  const year = Number(period.slice(0, 4)) || me.defaultYear;
  const set = useSetParams();
  // A district's agencies are counted by reporting: scoring's rankings span districts.
  const inDistrict = groupBy === 'AGENCY' && district !== '';
  // An officer's cases are listed by reporting.
  const ofOfficer = groupBy === 'CASE';
  const list = useApi(
    () =>
      get<ScoresPage>('/api/scores', {
        groupBy: inDistrict || ofOfficer ? 'DISTRICT' : groupBy,
        periodKind,
        period,
        district: groupBy === 'DISTRICT' ? district : '',
        agency,
        ascending: ascending === 'true' || undefined,
        pageSize: 1000,
      }),
    [groupBy, periodKind, period, district, agency, ascending],
  );
  const next = NEXT[groupBy];
  const drill = (row: ScoreRow) => {
    if (!next || !row.key) return;
    if (next.filter === 'district') set({ district: row.key, groupBy: next.groupBy });
    else if (next.filter === 'officer') set({ officer: row.key, groupBy: next.groupBy });
    else if (groupBy === 'AGENCY') set({ agency: row.key, groupBy: next.groupBy });
    else set({ groupBy: next.groupBy });
  };
  const labelOf = (row: ScoreRow) =>
    groupBy === 'AGENCY' ? agencyName(row.key) : row.label || row.key;
  const columns = [
    { title: t('rank'), dataIndex: 'rank', width: 64, align: 'right' as const },
    {
      title: name(`GROUP_BY_${groupBy}`),
      key: 'label',
      render: (_: unknown, row: ScoreRow) =>
        next ? (
          <Button type="link" size="small" style={{ padding: 0 }} onClick={() => drill(row)}>
            {labelOf(row)}
          </Button>
        ) : (
          labelOf(row)
        ),
    },
    numeric(t('meanScore'), 'meanScore', (v) => decimal(v, lang)),
    numeric(t('cases'), 'cases', (v) => count(v, lang)),
    numeric(t('corrected'), 'correctedCases', (v) => count(v, lang)),
    ...INDICATORS.map((i) => ({
      title: name(i),
      key: i,
      align: 'right' as const,
      render: (_: unknown, row: ScoreRow) => decimal(row.indicatorMeans?.[i], lang),
    })),
  ];
  const crumb = (label: string, changes: Record<string, string>) => ({
    title: (
      <Button
        type="link"
        size="small"
        style={{ padding: 0, height: 'auto' }}
        onClick={() => set(changes)}
      >
        {label}
      </Button>
    ),
  });
  const trail = [
    ...(me.can.report
      ? [crumb(t('district'), { district: '', agency: '', groupBy: 'DISTRICT' })]
      : []),
    ...(district ? [crumb(district, { agency: '', groupBy: 'AGENCY' })] : []),
    ...(agency ? [crumb(agencyName(agency), { groupBy: 'UNIT', officer: '' })] : []),
    ...(ofOfficer ? [crumb(name('GROUP_BY_OFFICER'), { groupBy: 'OFFICER', officer: '' })] : []),
    { title: ofOfficer ? `${t('officer')} ${officer}` : name(`GROUP_BY_${groupBy}`) },
  ];
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t('rankings')}
      </Typography.Title>
      <Breadcrumb items={trail} />
      <Space wrap>
        <Select
          aria-label={t('groupBy')}
          value={groupBy}
          style={{ width: 140 }}
          onChange={setGroupBy}
          options={['DISTRICT', 'AGENCY', 'UNIT', 'OFFICER', 'DOMAIN'].map((g) => ({
            value: g,
            label: name(`GROUP_BY_${g}`),
          }))}
        />
        <Select
          aria-label={t('periodKind')}
          value={periodKind}
          style={{ width: 110 }}
          onChange={(k) => set({ periodKind: k, period: periods(k, year)[0] ?? String(year) })}
          options={['YEAR', 'QUARTER', 'MONTH'].map((k) => ({ value: k, label: t(k as 'YEAR') }))}
        />
        <Select
          aria-label={t('period')}
          value={period}
          style={{ width: 130 }}
          onChange={setPeriod}
          options={periods(periodKind, year).map((p) => ({ value: p, label: p }))}
        />
        <label>
          {t('worst')}{' '}
          <Switch checked={ascending === 'true'} onChange={(v) => setAscending(v ? 'true' : '')} />
        </label>
      </Space>
      {ofOfficer ? (
        <OfficerCases year={year} agency={agency} officer={officer} />
      ) : inDistrict ? (
        <DistrictAgencies
          district={district}
          year={year}
          onPick={(a) => set({ agency: a, groupBy: 'UNIT' })}
        />
      ) : (
        <>
          {list.error && <Alert type="error" title={list.error.message} />}
          <WideTable
            label={t('rankings')}
            size="small"
            rowKey="key"
            loading={list.loading}
            dataSource={list.data?.rows ?? []}
            columns={columns}
            pagination={{ pageSize: 20, showSizeChanger: false }}
          />
        </>
      )}
    </Space>
  );
}

/**
 * A district's agencies: the scores' rollups span districts, so this level
 * comes from reporting, the year's figures counted over the district's cases.
 */
function DistrictAgencies({
  district,
  year,
  onPick,
}: {
  district: string;
  year: number;
  onPick: (agency: string) => void;
}) {
  const { t, lang } = useI18n();
  const { agencyName } = useReference();
  const figures = useApi(
    () => get<YearFigures>('/api/statistics', { year, district }),
    [year, district],
  );
  if (figures.error) return <Alert type="error" title={figures.error.message} />;
  const rows = [...(figures.data?.agency.groups ?? [])].sort(
    (a, b) => (b.meanScore ?? 0) - (a.meanScore ?? 0) || (a.key ?? '').localeCompare(b.key ?? ''),
  );
  return (
    <WideTable
      label={t('agency')}
      size="small"
      rowKey="key"
      loading={figures.loading}
      dataSource={rows}
      pagination={{ pageSize: 20, showSizeChanger: false }}
      columns={[
        {
          title: t('rank'),
          key: 'rank',
          width: 64,
          align: 'right' as const,
          render: (_: unknown, _r: Statistics, i: number) => i + 1,
        },
        {
          title: t('agency'),
          dataIndex: 'key',
          render: (k: string) => (
            <Button type="link" size="small" style={{ padding: 0 }} onClick={() => onPick(k)}>
              {agencyName(k)}
            </Button>
          ),
        },
        numeric(t('meanScore'), 'meanScore', (v) => decimal(v, lang)),
        numeric(t('casesRegistered'), 'casesRegistered', (v) => count(v, lang)),
        numeric(t('casesConcluded'), 'casesConcluded', (v) => count(v, lang)),
        numeric(t('onTimeRate'), 'onTimeRate', (v) => percent(v, lang)),
        numeric(t('overdueCases'), 'overdueCases', (v) => count(v, lang)),
        numeric(t('discretionAnomalies'), 'discretionAnomalies', (v) => count(v, lang)),
      ]}
    />
  );
}

/** An officer's cases of the year, from reporting, each leading to its case page. */
function OfficerCases({
  year,
  agency,
  officer,
}: {
  year: number;
  agency: string;
  officer: string;
}) {
  const { t, lang } = useI18n();
  const list = useApi(
    () => get<CasesPage>('/api/cases', { year, agency, officer, pageSize: 1000 }),
    [year, agency, officer],
  );
  if (list.error) return <Alert type="error" title={list.error.message} />;
  return (
    <WideTable
      label={t('caseId')}
      size="small"
      rowKey="caseId"
      loading={list.loading}
      dataSource={list.data?.cases ?? []}
      pagination={{ pageSize: 20, showSizeChanger: false }}
      columns={[
        {
          title: t('caseId'),
          dataIndex: 'caseId',
          render: (c: string) => <Link to={`/cases/${encodeURIComponent(c)}`}>{c}</Link>,
        },
        {
          title: t('casesRegistered'),
          dataIndex: 'registeredAt',
          render: (v: string) => moment(v, true),
        },
        {
          title: t('casesConcluded'),
          dataIndex: 'concludedAt',
          render: (v: string) => moment(v, true),
        },
        {
          title: t('deadline'),
          dataIndex: 'dueAt',
          render: (v: string, c: CaseSummary) => (
            <Space>
              {moment(v, true)}
              {c.overdue && <Tag color={TONE.bad}>{t('overdue')}</Tag>}
            </Space>
          ),
        },
        numeric(t('penaltyTotal'), 'fineFen', (v) => money(v, lang)),
        {
          title: t('discretionAnomalies'),
          dataIndex: 'discretionAnomaly',
          render: (v: boolean) =>
            v ? <Tag color={TONE.bad}>{t('discretionAnomalies')}</Tag> : '—',
        },
        numeric(t('orders'), 'orders', (v) => count(v, lang)),
        {
          title: t('score'),
          dataIndex: 'score',
          align: 'right' as const,
          render: (v: number, c: CaseSummary) => (c.evaluated ? decimal(v, lang) : '—'),
        },
      ]}
    />
  );
}
