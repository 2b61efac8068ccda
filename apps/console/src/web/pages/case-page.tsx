import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { reasonText } from '@enforcement/reference-data';
import {
  Alert,
  Button,
  Card,
  Col,
  Descriptions,
  Empty,
  Progress,
  Result,
  Row,
  Space,
  Spin,
  Table,
  Tag,
  Timeline,
  Typography,
} from 'antd';
import { ApiError, get } from '../api.js';
import { decimal, money, moment, TONE } from '../format.js';
import { emptyText, WideTable } from '../table.js';
import { useI18n } from '../i18n.js';
import { useLiveUpdates } from '../live.js';
import { useReference } from '../reference.js';
import type { CaseDetail, CaseEvent, CaseSummary, CasesPage, Indicator, Me } from '../types.js';
import { useApi } from '../use-api.js';
import { OrderAction, UnwarrantedTag } from './orders.js';

const STANDARD = new Set([
  'eventId',
  'caseId',
  'version',
  'position',
  'occurredAt',
  'recordedAt',
  'commandId',
  'actor',
  'agencyId',
  'caseType',
  'prevHash',
  'hash',
  'schemaVersion',
  'chainKeyId',
]);

/** The event's kind and its facts: the one member of its payload that is set. */
export function payloadOf(e: CaseEvent): [string, Record<string, unknown>] {
  for (const [k, v] of Object.entries(e))
    if (!STANDARD.has(k) && typeof v === 'object' && v !== null)
      return [k, v as Record<string, unknown>];
  return ['unknown', {}];
}

const KIND_ZH: Record<string, string> = {
  caseRegistered: '立案',
  caseDispatched: '指派执法人员',
  inspectionRecorded: '检查记录',
  evidenceRecorded: '证据登记',
  partyNotified: '告知当事人',
  hearingHeld: '听证',
  legalReviewCompleted: '法制审核',
  deadlineExtended: '延长期限',
  penaltyDecided: '作出处罚决定',
  caseConcluded: '结案',
  supervisionOrderOpened: '发起督办',
  supervisionOrderAnswered: '回复督办',
  supervisionOrderEscalated: '督办升级',
  caseEvaluated: '案件评查',
  caseArchived: '归档',
  reconsiderationFiled: '申请复议',
  reconsiderationAccepted: '受理复议',
  reconsiderationConcluded: '复议决定',
};

/** The case page: its timeline, its score with every indicator and the events behind it, its orders, its chain. */
export function CasePage({ me }: { me: Me }) {
  const { caseId = '' } = useParams();
  const { t, lang, name } = useI18n();
  const { agencyName } = useReference();
  const detail = useApi(
    () => get<CaseDetail>(`/api/cases/${encodeURIComponent(caseId)}`),
    [caseId],
  );
  const [focus, setFocus] = useState<string[]>([]);
  const [acting, setActing] = useState<'open' | undefined>();
  useLiveUpdates({
    order: (o) => o.caseId === caseId && detail.reload(),
    score: (s) => s.caseId === caseId && detail.reload(),
    resumed: () => detail.reload(),
  });
  if (detail.error)
    return detail.error instanceof ApiError && detail.error.status === 403 ? (
      <Result status="403" title={t('forbidden')} subTitle={detail.error.message} />
    ) : (
      <Alert type="error" title={detail.error.message} />
    );
  if (!detail.data) return <Spin />;
  const {
    case: c = {},
    history = [],
    historyNextVersion,
    integrity = {},
    score,
    unwarranted = {},
  } = detail.data;
  const eventOf = new Map(history.map((e) => [e.eventId, e]));
  const kindName = (k: string) =>
    lang === 'zh' ? (KIND_ZH[k] ?? k) : k.replace(/([A-Z])/g, ' $1').toLowerCase();
  const indicatorColumns = [
    { title: t('indicators'), dataIndex: 'indicator', render: (i: string) => name(i) },
    {
      title: t('points'),
      key: 'points',
      render: (_: unknown, i: Indicator) => (
        <Space>
          <Progress
            percent={i.maxPoints ? ((i.points ?? 0) / i.maxPoints) * 100 : 0}
            size="small"
            showInfo={false}
            style={{ width: 80 }}
            aria-label={name(i.indicator)}
          />
          {decimal(i.points, lang, 1)} / {decimal(i.maxPoints, lang, 0)}
        </Space>
      ),
    },
    {
      title: t('reasons'),
      dataIndex: 'reasons',
      // In Chinese, each reason from its code and figures; the recorded English where there is no code (an evaluator's words) or the code is newer than this page.
      render: (r: string[] = [], i: Indicator) =>
        r
          .map((text, k) => {
            const d = i.reasonDetails?.[k];
            return (lang === 'zh' && d?.code && reasonText('zh', d.code, d.args)) || text;
          })
          .join('；') || '—',
    },
    {
      title: t('events'),
      dataIndex: 'eventIds',
      render: (ids: string[] = []) => (
        <Space wrap>
          {ids.map((id) => (
            <a key={id} href={`#${id}`} onClick={() => setFocus(ids)}>
              v{eventOf.get(id)?.version ?? '?'}
            </a>
          ))}
        </Space>
      ),
    },
  ];
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Space wrap style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t('case')} {c.caseId}
        </Typography.Title>
        {me.can.supervise && (
          <Button type="primary" onClick={() => setActing('open')}>
            {t('openOrder')}
          </Button>
        )}
      </Space>
      <Descriptions size="small" bordered column={{ xs: 1, sm: 2, lg: 3 }}>
        <Descriptions.Item label={t('agency')}>{agencyName(c.agencyId)}</Descriptions.Item>
        <Descriptions.Item label={t('district')}>{c.district}</Descriptions.Item>
        <Descriptions.Item label={t('unit')}>{c.unitId || '—'}</Descriptions.Item>
        <Descriptions.Item label={t('officer')}>
          {(c.officers ?? []).map((o) => o.name || o.officerId).join('、') || '—'}
        </Descriptions.Item>
        <Descriptions.Item label={t('status')}>{name(c.status)}</Descriptions.Item>
        <Descriptions.Item label={t('deadline')}>{moment(c.dueAt, true)}</Descriptions.Item>
        <Descriptions.Item label={t('penaltyTotal')}>{money(c.fineFen, lang)}</Descriptions.Item>
        {c.enforcementCaseId && (
          <Descriptions.Item label={t('reviewOf')}>
            <Link to={`/cases/${encodeURIComponent(c.enforcementCaseId)}`}>
              {c.enforcementCaseId}
            </Link>
          </Descriptions.Item>
        )}
      </Descriptions>
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={14}>
          <Card
            size="small"
            title={
              <Space>
                {t('score')}
                {score && (
                  <Typography.Text strong data-testid="case-score">
                    {decimal(score.score, lang)}
                  </Typography.Text>
                )}
                {score?.corrected && <Tag color={TONE.bad}>{t('correctedBy')}</Tag>}
              </Space>
            }
          >
            {score ? (
              <WideTable
                label={t('indicators')}
                size="small"
                rowKey="indicator"
                pagination={false}
                dataSource={score.indicators ?? []}
                columns={indicatorColumns}
              />
            ) : (
              <Empty description={t('notScored')} />
            )}
          </Card>
          {c.caseType === 'CASE_TYPE_ENFORCEMENT' && c.registeredAt && c.agencyId && (
            <Reviews caseId={caseId} agencyId={c.agencyId} registeredAt={c.registeredAt} />
          )}
          <Card size="small" title={t('orders')} style={{ marginTop: 16 }}>
            <Table
              size="small"
              rowKey="orderId"
              pagination={false}
              dataSource={c.orders ?? []}
              locale={emptyText(t('none'))}
              columns={[
                { title: 'ID', dataIndex: 'orderId' },
                { title: t('reason'), dataIndex: 'reason', render: (r: string) => name(r) },
                {
                  title: t('status'),
                  dataIndex: 'open',
                  render: (o: boolean, order: { orderId?: string }) => (
                    <Space size={4} wrap>
                      {o ? name('ORDER_STATUS_OPEN') : name('ORDER_STATUS_ANSWERED')}
                      <UnwarrantedTag actions={unwarranted[order.orderId ?? '']} />
                    </Space>
                  ),
                },
                { title: t('level'), dataIndex: 'level' },
                {
                  title: t('responseDue'),
                  dataIndex: 'responseDueAt',
                  render: (v: string) => moment(v),
                },
              ]}
            />
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card size="small" title={t('integrity')}>
            <Space direction="vertical">
              <span data-testid="integrity">
                {integrity.valid ? (
                  <Tag color={TONE.good}>{t('valid')}</Tag>
                ) : (
                  <Tag color={TONE.bad}>{t('broken')}</Tag>
                )}
                {integrity.problem}
              </span>
              <span>
                {t('eventCount')}: {integrity.eventCount ?? 0} · {t('checkpoint')}:{' '}
                {integrity.checkpointVersion ?? 0}
              </span>
              <Typography.Text code copyable style={{ wordBreak: 'break-all' }}>
                {integrity.headHash}
              </Typography.Text>
            </Space>
          </Card>
          <Card size="small" title={t('timeline')} style={{ marginTop: 16 }}>
            <Timeline
              items={history.map((e) => {
                const [kind, facts] = payloadOf(e);
                const bad =
                  integrity.firstBadVersion !== undefined &&
                  integrity.firstBadVersion > 0 &&
                  (e.version ?? 0) >= integrity.firstBadVersion;
                return {
                  color: bad ? 'red' : focus.includes(e.eventId ?? '') ? 'orange' : 'blue',
                  content: (
                    <div id={e.eventId} data-version={e.version}>
                      <Typography.Text strong>
                        v{e.version} {kindName(kind)}
                      </Typography.Text>
                      <br />
                      <Typography.Text type="secondary">
                        {moment(e.occurredAt)} · {t('actor')} {e.actor}
                      </Typography.Text>
                      {typeof facts.sha256 === 'string' && (
                        <div>
                          {t('evidence')}:{' '}
                          <Typography.Text code>{facts.sha256.slice(0, 16)}…</Typography.Text>
                        </div>
                      )}
                      {typeof facts.fineFen === 'number' && <div>{money(facts.fineFen, lang)}</div>}
                    </div>
                  ),
                };
              })}
            />
            {historyNextVersion !== undefined && historyNextVersion > 0 && (
              <Typography.Text type="warning" data-testid="history-continues">
                {t('historyContinues')} {historyNextVersion} ({t('moreEvents')}:{' '}
                {(integrity.eventCount ?? 0) - history.length})
              </Typography.Text>
            )}
          </Card>
        </Col>
      </Row>
      {acting && (
        <OrderAction
          kind="open"
          caseId={c.caseId}
          onClose={(done) => {
            setActing(undefined);
            if (done) detail.reload();
          }}
        />
      )}
    </Space>
  );
}

/** The reconsiderations and litigation about an enforcement case, in its year and the next. */
function Reviews({
  caseId,
  agencyId,
  registeredAt,
}: {
  caseId: string;
  agencyId: string;
  registeredAt: string;
}) {
  const { t } = useI18n();
  const year = Number(moment(registeredAt, true).slice(0, 4));
  const reviews = useApi(
    () =>
      Promise.all(
        [year, year + 1].map((y) =>
          get<CasesPage>('/api/cases', { year: y, agency: agencyId, about: caseId, pageSize: 100 }),
        ),
      ).then((pages) => {
        const seen = new Map<string, CaseSummary>();
        for (const p of pages) for (const r of p.cases ?? []) seen.set(r.caseId ?? '', r);
        return [...seen.values()];
      }),
    [caseId, agencyId, year],
  );
  return (
    <Card size="small" title={t('reviews')} style={{ marginTop: 16 }}>
      {reviews.error ? (
        <Alert type="error" title={reviews.error.message} />
      ) : (
        <Table
          size="small"
          rowKey="caseId"
          pagination={false}
          loading={reviews.loading}
          dataSource={reviews.data ?? []}
          locale={emptyText(t('none'))}
          data-testid="reviews"
          columns={[
            {
              title: t('caseId'),
              dataIndex: 'caseId',
              render: (id: string) => <Link to={`/cases/${encodeURIComponent(id)}`}>{id}</Link>,
            },
            {
              title: t('kind'),
              dataIndex: 'kind',
              render: (k: string) => t(k === 'LITIGATION' ? 'litigation' : 'reconsideration'),
            },
            {
              title: t('filed'),
              dataIndex: 'registeredAt',
              render: (v: string) => moment(v, true),
            },
            {
              title: t('decided'),
              dataIndex: 'concludedAt',
              render: (v: string) => moment(v, true),
            },
            {
              title: t('corrected'),
              dataIndex: 'corrected',
              render: (v: boolean, r: CaseSummary) =>
                v ? (
                  <Tag color={TONE.bad}>{t('corrected')}</Tag>
                ) : r.concludedAt ? (
                  t('upheld')
                ) : (
                  '—'
                ),
            },
          ]}
        />
      )}
    </Card>
  );
}
