import { useEffect } from 'react';
import { Link } from 'react-router-dom';
import {
  Alert,
  App,
  Button,
  Card,
  Col,
  Descriptions,
  Row,
  Space,
  Statistic,
  Tag,
  Typography,
} from 'antd';
import { get, post } from '../api.js';
import { count, moment, TONE } from '../format.js';
import { numeric } from '../columns.js';
import { emptyText, WideTable } from '../table.js';
import { useI18n } from '../i18n.js';
import { useReference } from '../reference.js';
import type { Operations as Ops } from '../types.js';
import { useApi } from '../use-api.js';

/** Operations: the services, the projection's lag, the parked cases with release, the rules, a rebuild. */
export function Operations() {
  const { t, lang } = useI18n();
  const { message, modal } = App.useApp();
  const { agencyName } = useReference();
  const ops = useApi(() => get<Ops>('/api/operations'), []);
  useEffect(() => {
    const timer = setInterval(() => ops.reload(), 5_000);
    return () => clearInterval(timer);
  }, []);
  if (ops.error) return <Alert type="error" title={ops.error.message} />;
  const p = ops.data?.projection;
  const r = ops.data?.rules;
  // Trouble with nothing accepted since: the rules are not getting through now.
  const stuck =
    !!r?.lastTroubleAt &&
    (!r.lastAcceptedAt || Date.parse(r.lastAcceptedAt) < Date.parse(r.lastTroubleAt));
  const release = async (caseId: string) => {
    try {
      const out = await post<{ releasedEvents?: number }>(
        `/api/operations/parked/${encodeURIComponent(caseId)}/release`,
      );
      void message.success(`${t('release')}: ${out.releasedEvents ?? 0}`);
      ops.reload();
    } catch (e) {
      void message.error(e instanceof Error ? e.message : String(e));
    }
  };
  const rebuild = () =>
    modal.confirm({
      title: t('rebuild'),
      onOk: async () => {
        try {
          await post('/api/operations/rebuild');
          ops.reload();
        } catch (e) {
          void message.error(e instanceof Error ? e.message : String(e));
        }
      },
    });
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t('operations')}
      </Typography.Title>
      <Row gutter={[16, 16]}>
        {(ops.data?.services ?? []).map((s) => (
          <Col key={s.name} xs={24} md={8}>
            <Card size="small" title={s.name} data-testid={`service-${s.name}`}>
              {s.up ? (
                <Tag color={TONE.good}>{t('up')}</Tag>
              ) : (
                <Tag color={TONE.bad}>{t('down')}</Tag>
              )}
              {s.up ? `${s.version} · ${s.commit?.slice(0, 8)} · ${moment(s.startedAt)}` : s.error}
            </Card>
          </Col>
        ))}
      </Row>
      <Row gutter={[16, 16]}>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('lag')} value={count(p?.lag, lang)} data-testid="lag" />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('parked')} value={count(p?.parkedTotal, lang)} />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('casesDue')} value={count(r?.casesDue, lang)} />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('generation')} value={p?.generation ?? 0} />
          </Card>
        </Col>
      </Row>
      <Card
        size="small"
        title={t('parked')}
        extra={
          <Button danger onClick={rebuild} disabled={p?.rebuilding}>
            {p?.rebuilding
              ? `${t('rebuilding')} ${count(p.rebuildEventsApplied, lang)}`
              : t('rebuild')}
          </Button>
        }
      >
        <WideTable
          label={t('parked')}
          size="small"
          rowKey="caseId"
          pagination={false}
          dataSource={p?.parked ?? []}
          locale={emptyText(t('none'))}
          columns={[
            {
              title: t('caseId'),
              dataIndex: 'caseId',
              render: (c: string) => <Link to={`/cases/${encodeURIComponent(c)}`}>{c}</Link>,
            },
            { title: t('agency'), dataIndex: 'agencyId', render: (a: string) => agencyName(a) },
            { title: t('reason'), dataIndex: 'reason' },
            numeric(t('held'), 'heldEvents', (v) => count(v, lang)),
            { title: t('when'), dataIndex: 'parkedAt', render: (v: string) => moment(v) },
            {
              title: '',
              key: 'release',
              render: (_: unknown, row: { caseId?: string }) => (
                <Button size="small" onClick={() => void release(row.caseId ?? '')}>
                  {t('release')}
                </Button>
              ),
            },
          ]}
        />
      </Card>
      <Card size="small" title={t('rules')}>
        {stuck && (
          <Alert
            type="error"
            showIcon
            title={`${t('rulesStuck')} (${moment(r?.lastTroubleAt)})`}
            description={r?.lastTrouble}
          />
        )}
        <Descriptions size="small" column={{ xs: 1, md: 3 }}>
          <Descriptions.Item label={t('ruleClock')}>{r?.clock}</Descriptions.Item>
          <Descriptions.Item label={t('lastPass')}>{moment(r?.lastPassAt)}</Descriptions.Item>
          <Descriptions.Item label={t('lastAccepted')}>
            {moment(r?.lastAcceptedAt)}
          </Descriptions.Item>
          <Descriptions.Item label={t('lastRecorded')}>
            {moment(p?.lastRecordedAt)}
          </Descriptions.Item>
          <Descriptions.Item label={t('actionsSent')}>
            {count(r?.actionsSent, lang)}
          </Descriptions.Item>
          <Descriptions.Item label={t('actionsRefused')}>
            {count(r?.actionsRefused, lang)}
          </Descriptions.Item>
          <Descriptions.Item label={t('ordersUnwarranted')}>
            <Link to="/orders?unwarranted=true" data-testid="orders-unwarranted">
              {count(r?.ordersUnwarranted, lang)}
            </Link>
          </Descriptions.Item>
          {r?.lastTroubleAt && !stuck && (
            <Descriptions.Item label={t('lastTrouble')}>
              {`${moment(r.lastTroubleAt)}: ${r.lastTrouble ?? ''}`}
            </Descriptions.Item>
          )}
          <Descriptions.Item label={t('partitions')}>
            {(p?.partitions ?? []).map((x) => `${x.partition ?? 0}:${x.lag ?? 0}`).join(' ')}
          </Descriptions.Item>
        </Descriptions>
        <WideTable
          label={t('rules')}
          size="small"
          rowKey="agencyId"
          pagination={false}
          dataSource={r?.agencies ?? []}
          columns={[
            { title: t('agency'), dataIndex: 'agencyId', render: (a: string) => agencyName(a) },
            { title: t('judgedUpTo'), dataIndex: 'judgedUpTo', render: (v: string) => moment(v) },
            numeric(t('casesDue'), 'casesDue', (v) => count(v, lang)),
            numeric(t('ordersUnwarranted'), 'ordersUnwarranted', (v) => count(v, lang)),
          ]}
        />
      </Card>
    </Space>
  );
}
