import { lazy, Suspense, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { Alert, Card, Col, Empty, List, Row, Space, Table, Tag, Typography } from 'antd';
import { get } from '../api.js';

import { count, decimal, moment } from '../format.js';
import { numeric } from '../columns.js';
import { useI18n } from '../i18n.js';
import { useLiveUpdates } from '../live.js';
import { useReference } from '../reference.js';
import type { Me, Order, OrdersPage, ScoreRow, ScoresPage, YearFigures } from '../types.js';
import { useApi } from '../use-api.js';
import { Figures } from './figures.js';
import { useParam, YearAsOf } from './controls.js';
import { OrderStatusTag } from './orders.js';

// The charts library loads with the first chart, not before the figures.
const LazyChart = lazy(() => import('../chart.js'));
const Chart = (p: Parameters<typeof LazyChart>[0]) => (
  <Suspense fallback={<div style={{ height: p.height ?? 280 }} />}>
    <LazyChart {...p} />
  </Suspense>
);

/** The city's cockpit (驾驶舱): the year's figures, the live orders, the best and worst, the flow, the deadlines. */
export function Overview({ me }: { me: Me }) {
  const { t } = useI18n();
  const [yearText, setYear] = useParam('year', String(me.defaultYear));
  const [asOf, setAsOf] = useParam('asOf');
  const year = Number(yearText);
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Space wrap style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {me.can.report ? t('overview') : t('agencyOverview')}
        </Typography.Title>
        <YearAsOf year={year} setYear={(y) => setYear(String(y))} asOf={asOf} setAsOf={setAsOf} />
      </Space>
      {me.can.report ? (
        <CityFigures year={year} asOf={asOf} />
      ) : (
        <>
          <AgencyFigures me={me} year={year} />
          <OrdersAndDeadlines overdueByAgency={undefined} />
        </>
      )}
    </Space>
  );
}

function CityFigures({ year, asOf }: { year: number; asOf: string }) {
  const { t, lang } = useI18n();
  const { agencyName } = useReference();
  const figures = useApi(() => get<YearFigures>('/api/statistics', { year, asOf }), [year, asOf]);
  // Best and worst by the explainable scores the rankings show (scoring's, as they stand now).
  const scores = useApi(
    () =>
      Promise.all(
        (['AGENCY', 'DISTRICT'] as const).map((groupBy) =>
          get<ScoresPage>('/api/scores', {
            groupBy,
            periodKind: 'YEAR',
            period: String(year),
            pageSize: 1000,
          }),
        ),
      ),
    [year],
  );
  const f = figures.data;
  const overdueByAgency = useMemo(
    () =>
      f
        ? new Map((f.agency.groups ?? []).map((g) => [g.key ?? '', g.overdueCases ?? 0]))
        : undefined,
    [f],
  );
  const months = f?.month.groups ?? [];
  const flow = useMemo(
    () => ({
      tooltip: { trigger: 'axis' as const },
      legend: { data: [t('casesRegistered'), t('casesConcluded')] },
      xAxis: { type: 'category' as const, data: months.map((m) => m.key ?? '') },
      yAxis: { type: 'value' as const },
      series: [
        {
          name: t('casesRegistered'),
          type: 'bar' as const,
          data: months.map((m) => m.casesRegistered ?? 0),
        },
        {
          name: t('casesConcluded'),
          type: 'line' as const,
          data: months.map((m) => m.casesConcluded ?? 0),
        },
      ],
    }),
    [months, t],
  );
  if (figures.error) return <Alert type="error" title={figures.error.message} />;
  const agencies = scores.data?.[0]?.rows ?? [];
  const districts = scores.data?.[1]?.rows ?? [];
  const columns = (kind: 'agency' | 'district') => [
    {
      title: kind === 'agency' ? t('agency') : t('district'),
      dataIndex: 'key',
      render: (k: string) => (
        <Link
          to={`/rankings?groupBy=${kind === 'agency' ? 'UNIT' : 'AGENCY'}&${kind}=${encodeURIComponent(k)}`}
        >
          {kind === 'agency' ? agencyName(k) : k}
        </Link>
      ),
    },
    numeric(t('meanScore'), 'meanScore', (v) => decimal(v, lang)),
    numeric(t('cases'), 'cases', (v) => count(v, lang)),
  ];
  const ends = (list: ScoreRow[], kind: 'agency' | 'district') => (
    <Row gutter={12}>
      <Col xs={24} md={12}>
        <Table
          size="small"
          pagination={false}
          rowKey="key"
          title={() => t('best')}
          dataSource={list.slice(0, 5)}
          columns={columns(kind)}
        />
      </Col>
      <Col xs={24} md={12}>
        <Table
          size="small"
          pagination={false}
          rowKey="key"
          title={() => t('worst')}
          dataSource={list.slice(-5).reverse()}
          columns={columns(kind)}
        />
      </Col>
    </Row>
  );
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Figures stats={f?.overall.overall} />
      {/* The figures count the year's cases and orders; the live orders beside them are of every year. */}
      <Typography.Text type="secondary" data-testid="figures-as-of">
        {t('figuresOfYear').replace('{year}', String(f?.overall.year ?? year))} · {t('asOf')}{' '}
        {moment(f?.overall.asOf)} · {t('digest')} {f?.overall.digest?.slice(0, 12) ?? '—'}
      </Typography.Text>
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={12}>
          <Card size="small" title={t('agency')}>
            {ends(agencies, 'agency')}
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card size="small" title={t('district')}>
            {ends(districts, 'district')}
          </Card>
        </Col>
      </Row>
      {overdueByAgency && <OrdersAndDeadlines overdueByAgency={overdueByAgency} />}
      <Card size="small" title={t('monthlyFlow')}>
        {months.length > 0 ? <Chart option={flow} label={t('monthlyFlow')} /> : <Empty />}
      </Card>
    </Space>
  );
}

function AgencyFigures({ me, year }: { me: Me; year: number }) {
  const { t, lang } = useI18n();
  const { agencyName } = useReference();
  const rows = useApi(
    () =>
      get<ScoresPage>('/api/scores', {
        groupBy: 'AGENCY',
        periodKind: 'YEAR',
        period: String(year),
        agency: me.agencies[0],
      }),
    [year, me.agencies],
  );
  if (rows.error) return <Alert type="error" title={rows.error.message} />;
  const row = rows.data?.rows?.[0];
  return (
    <Card size="small" title={agencyName(me.agencies[0])}>
      <Space size="large" wrap>
        <span data-testid="agency-mean-score">
          {t('meanScore')}: {row ? decimal(row.meanScore, lang) : '—'}
        </span>
        <span>
          {t('cases')}: {count(row?.cases, lang)}
        </span>
        <Link to={`/rankings?groupBy=UNIT&agency=${encodeURIComponent(me.agencies[0] ?? '')}`}>
          {t('drillDown')}
        </Link>
      </Space>
    </Card>
  );
}

/** The live orders and the deadlines: asked for once the year's figures are in, so they do not hold them up. */
function OrdersAndDeadlines({
  overdueByAgency,
}: {
  overdueByAgency: Map<string, number> | undefined;
}) {
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} lg={12}>
        <LiveOrders />
      </Col>
      <Col xs={24} lg={12}>
        <DeadlineHeat overdueByAgency={overdueByAgency} />
      </Col>
    </Row>
  );
}

/** Orders as they are opened, escalated and answered: the latest first, live. */
function LiveOrders() {
  const { t, name } = useI18n();
  const { agencyName } = useReference();
  const first = useApi(() => get<OrdersPage>('/api/orders', { pageSize: 10 }), []);
  const [live, setLive] = useState<Order[]>([]);
  useLiveUpdates({
    order: (o) => setLive((l) => [o, ...l].slice(0, 30)),
    // Listed again: what came meanwhile is in the new list, in its order.
    resumed: () => {
      setLive([]);
      first.reload();
    },
  });
  const shown = [...live, ...(first.data?.orders ?? [])].slice(0, 12);
  return (
    <Card size="small" title={t('liveOrders')}>
      <List
        aria-live="polite"
        data-testid="live-orders"
        dataSource={shown}
        locale={{ emptyText: t('liveWaiting') }}
        renderItem={(o) => (
          <List.Item data-order={o.orderId} data-status={o.status}>
            <Space wrap>
              <OrderStatusTag status={o.status} />
              <Tag>{name(o.reason)}</Tag>
              <Link to={`/cases/${encodeURIComponent(o.caseId ?? '')}`}>{o.caseId}</Link>
              <span>{agencyName(o.agencyId)}</span>
              <Typography.Text type="secondary">
                {moment(o.answeredAt ?? o.openedAt)}
              </Typography.Text>
            </Space>
          </List.Item>
        )}
      />
    </Card>
  );
}

/**
 * Where the 90-day deadlines bite, per agency: open orders for cases
 * approaching theirs, and cases past it (the year's figures; for an agency,
 * its open OVERDUE orders).
 */
function DeadlineHeat({ overdueByAgency }: { overdueByAgency: Map<string, number> | undefined }) {
  const { t } = useI18n();
  const { agencyName } = useReference();
  const approaching = useApi(
    () =>
      get<OrdersPage>('/api/orders', {
        reason: 'APPROACHING_DEADLINE',
        status: 'OPEN',
        pageSize: 1000,
      }),
    [],
  );
  const overdue = useApi(
    () =>
      overdueByAgency
        ? Promise.resolve<OrdersPage>({ orders: [] })
        : get<OrdersPage>('/api/orders', { reason: 'OVERDUE', status: 'OPEN', pageSize: 1000 }),
    [overdueByAgency === undefined],
  );
  const option = useMemo(() => {
    const per = new Map<string, [number, number]>();
    for (const o of approaching.data?.orders ?? []) {
      const v = per.get(o.agencyId ?? '') ?? [0, 0];
      v[0] += 1;
      per.set(o.agencyId ?? '', v);
    }
    for (const o of overdue.data?.orders ?? []) {
      const v = per.get(o.agencyId ?? '') ?? [0, 0];
      v[1] += 1;
      per.set(o.agencyId ?? '', v);
    }
    for (const [agency, n] of overdueByAgency ?? []) {
      if (n === 0) continue;
      const v = per.get(agency) ?? [0, 0];
      v[1] += n;
      per.set(agency, v);
    }
    const rows = [...per].sort((a, b) => a[1][0] + a[1][1] - (b[1][0] + b[1][1])).slice(-12);
    return {
      tooltip: { trigger: 'axis' as const },
      legend: { data: [t('approaching'), t('overdueOrders')] },
      grid: { left: 140 },
      xAxis: { type: 'value' as const },
      yAxis: { type: 'category' as const, data: rows.map(([a]) => agencyName(a)) },
      series: [
        {
          name: t('approaching'),
          type: 'bar' as const,
          stack: 'd',
          color: '#f5a623',
          data: rows.map(([, v]) => v[0]),
        },
        {
          name: t('overdueOrders'),
          type: 'bar' as const,
          stack: 'd',
          color: '#b71c1c',
          data: rows.map(([, v]) => v[1]),
        },
      ],
    };
  }, [approaching.data, overdue.data, overdueByAgency, t, agencyName]);
  return (
    <Card size="small" title={t('deadlineHeat')}>
      <Chart option={option} height={320} label={t('deadlineHeat')} />
    </Card>
  );
}
