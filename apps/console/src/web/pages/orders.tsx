import { useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Alert,
  App,
  Button,
  Checkbox,
  DatePicker,
  Form,
  Input,
  Modal,
  Select,
  Space,
  Tag,
  Tooltip,
  Typography,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { get, post } from '../api.js';
import { moment, ZONE, TONE } from '../format.js';
import { WideTable } from '../table.js';
import { useI18n } from '../i18n.js';
import { useLiveUpdates } from '../live.js';
import { later } from '../versions.js';
import { useReference } from '../reference.js';
import type { Me, Order, OrdersPage } from '../types.js';
import { useApi } from '../use-api.js';
import { useParam } from './controls.js';

const REASONS = [
  'OVERDUE',
  'APPROACHING_DEADLINE',
  'DISCRETION_ANOMALY',
  'MISSING_LEGAL_REVIEW',
  'MISSING_EVIDENCE',
  'COMPLAINT',
  'OTHER',
];

export function OrderStatusTag({ status }: { status: string | undefined }) {
  const { name } = useI18n();
  const color =
    status === 'ORDER_STATUS_ANSWERED'
      ? TONE.good
      : status === 'ORDER_STATUS_ESCALATED'
        ? TONE.bad
        : TONE.warn;
  return <Tag color={color}>{name(status)}</Tag>;
}

/** Marks an order holding rule actions its case's history no longer calls for (late data), naming them. */
export function UnwarrantedTag({ actions = [] }: { actions?: readonly string[] }) {
  const { t } = useI18n();
  if (actions.length === 0) return null;
  return (
    <Tooltip title={t('unwarrantedHelp') + actions.join(', ')}>
      <Tag color={TONE.warn} data-unwarranted={actions.join(' ')}>
        {t('unwarranted')}
      </Tag>
    </Tooltip>
  );
}

const newId = () => crypto.randomUUID();

/** The orders queue (督办): filter, open and escalate as a supervisor, answer as the agency; live. */
export function Orders({ me }: { me: Me }) {
  const { t, name } = useI18n();
  const { agencies, agencyName } = useReference();
  const [status, setStatus] = useParam('status');
  const [reason, setReason] = useParam('reason');
  const [agency, setAgency] = useParam('agency');
  const [overdue, setOverdue] = useParam('overdue');
  const [escalated, setEscalated] = useParam('escalated');
  const [unwarranted, setUnwarranted] = useParam('unwarranted');
  // Orders per call (the address may ask for fewer); "load more" fetches the next page.
  const [sizeParam] = useParam('pageSize', '1000');
  const pageSize = Math.min(1000, Math.max(1, Number(sizeParam) || 1000));
  const [page, setPage] = useState(1);
  const [acting, setActing] = useState<{ kind: 'open' | 'escalate' | 'answer'; order?: Order }>();
  const filters = {
    status,
    reason,
    agency,
    overdue: overdue === 'true' || undefined,
    escalated: escalated === 'true' || undefined,
    unwarranted: unwarranted === 'true' || undefined,
    pageSize,
  };
  const list = useApi(
    () => get<OrdersPage>('/api/orders', filters),
    [status, reason, agency, overdue, escalated, unwarranted, pageSize],
  );
  // Pages after the first, fetched on request: a province's year holds more orders than one page.
  const [more, setMore] = useState<{ key: string; orders: Order[]; token: string }>({
    key: '',
    orders: [],
    token: '',
  });
  const filterKey = JSON.stringify([
    status,
    reason,
    agency,
    overdue,
    escalated,
    unwarranted,
    pageSize,
  ]);
  const extra = more.key === filterKey ? more : { key: filterKey, orders: [], token: '' };
  const nextToken = extra.orders.length > 0 ? extra.token : (list.data?.nextPageToken ?? '');
  const [loadingMore, setLoadingMore] = useState(false);
  const loadMore = async () => {
    setLoadingMore(true);
    try {
      const page = await get<OrdersPage>('/api/orders', { ...filters, pageToken: nextToken });
      setMore({
        key: filterKey,
        orders: [...extra.orders, ...(page.orders ?? [])],
        token: page.nextPageToken ?? '',
      });
    } finally {
      setLoadingMore(false);
    }
  };
  const [changed, setChanged] = useState(new Map<string, Order>());
  useLiveUpdates({
    order: (o) =>
      setChanged((m) => new Map(m).set(o.orderId ?? '', later(m.get(o.orderId ?? ''), o))),
    resumed: () => list.reload(),
  });
  const matches = (o: Order) =>
    (!status || o.status === `ORDER_STATUS_${status}`) &&
    (!reason || o.reason === `SUPERVISION_REASON_${reason}`) &&
    (!agency || o.agencyId === agency) &&
    (overdue !== 'true' || o.overdue === true) &&
    (escalated !== 'true' || o.escalated === true) &&
    (unwarranted !== 'true' || (o.unwarrantedActions ?? []).length > 0);
  const base = [...(list.data?.orders ?? []), ...extra.orders];
  const known = new Set(base.map((o) => o.orderId));
  const rows = [
    ...[...changed.values()].filter((o) => !known.has(o.orderId) && matches(o)).reverse(),
    ...base.map((o) => later(o, changed.get(o.orderId ?? '') ?? o)),
  ];
  const columns = [
    {
      title: t('status'),
      dataIndex: 'status',
      render: (s: string, o: Order) => (
        <Space size={4} wrap>
          <OrderStatusTag status={s} />
          <UnwarrantedTag actions={o.unwarrantedActions} />
        </Space>
      ),
    },
    { title: t('reason'), dataIndex: 'reason', render: (r: string) => name(r) },
    {
      title: t('caseId'),
      dataIndex: 'caseId',
      render: (c: string) => <Link to={`/cases/${encodeURIComponent(c)}`}>{c}</Link>,
    },
    { title: t('agency'), dataIndex: 'agencyId', render: (a: string) => agencyName(a) },
    { title: t('level'), dataIndex: 'level', align: 'right' as const },
    { title: t('openedAt'), dataIndex: 'openedAt', render: (v: string) => moment(v) },
    {
      title: t('responseDue'),
      dataIndex: 'responseDueAt',
      render: (v: string, o: Order) => (
        <Space>
          {moment(v)}
          {o.overdue && <Tag color={TONE.bad}>{t('overdue')}</Tag>}
        </Space>
      ),
    },
    { title: t('answeredAt'), dataIndex: 'answeredAt', render: (v: string) => moment(v) },
    {
      title: '',
      key: 'act',
      render: (_: unknown, o: Order) =>
        o.status === 'ORDER_STATUS_ANSWERED' ? null : (
          <Space>
            {me.can.supervise && (
              <Button size="small" onClick={() => setActing({ kind: 'escalate', order: o })}>
                {t('escalate')}
              </Button>
            )}
            {me.can.answer && (
              <Button
                size="small"
                type="primary"
                onClick={() => setActing({ kind: 'answer', order: o })}
              >
                {t('answer')}
              </Button>
            )}
          </Space>
        ),
    },
  ];
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Space wrap style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t('orders')}
        </Typography.Title>
        {me.can.supervise && (
          <Button type="primary" onClick={() => setActing({ kind: 'open' })}>
            {t('openOrder')}
          </Button>
        )}
      </Space>
      <Space wrap>
        <Select
          aria-label={t('status')}
          style={{ width: 140 }}
          value={status}
          onChange={setStatus}
          options={[
            { value: '', label: t('all') },
            ...['OPEN', 'ESCALATED', 'ANSWERED'].map((s) => ({
              value: s,
              label: name(`ORDER_STATUS_${s}`),
            })),
          ]}
        />
        <Select
          aria-label={t('reason')}
          style={{ width: 160 }}
          value={reason}
          onChange={setReason}
          options={[
            { value: '', label: t('all') },
            ...REASONS.map((r) => ({ value: r, label: name(`SUPERVISION_REASON_${r}`) })),
          ]}
        />
        {me.can.report && (
          <Select
            aria-label={t('agency')}
            style={{ width: 220 }}
            showSearch
            optionFilterProp="label"
            value={agency}
            onChange={setAgency}
            options={[
              { value: '', label: t('all') },
              ...agencies.map((a) => ({ value: a.id, label: a.name })),
            ]}
          />
        )}
        <Checkbox
          checked={overdue === 'true'}
          onChange={(e) => setOverdue(e.target.checked ? 'true' : '')}
        >
          {t('overdueOnly')}
        </Checkbox>
        <Checkbox
          checked={escalated === 'true'}
          onChange={(e) => setEscalated(e.target.checked ? 'true' : '')}
        >
          {t('escalatedOnly')}
        </Checkbox>
        <Checkbox
          checked={unwarranted === 'true'}
          onChange={(e) => setUnwarranted(e.target.checked ? 'true' : '')}
        >
          {t('unwarrantedOnly')}
        </Checkbox>
      </Space>
      {list.error && <Alert type="error" title={list.error.message} />}
      <WideTable
        label={t('orders')}
        size="small"
        rowKey="orderId"
        loading={list.loading}
        dataSource={rows}
        columns={columns}
        onRow={(o) =>
          ({
            'data-order': o.orderId,
            'data-status': o.status,
          }) as React.HTMLAttributes<HTMLElement>
        }
        pagination={{ current: page, onChange: setPage, pageSize: 20, showSizeChanger: false }}
      />
      {nextToken && (
        <Button onClick={() => void loadMore()} loading={loadingMore}>
          {t('loadMore')}
        </Button>
      )}
      {acting && (
        <OrderAction
          kind={acting.kind}
          order={acting.order}
          onClose={(done) => {
            setActing(undefined);
            if (done) list.reload();
          }}
        />
      )}
    </Space>
  );
}

/** Opening, escalating or answering an order: one command to case-intake, with its own command id. */
export function OrderAction({
  kind,
  order,
  caseId,
  onClose,
}: {
  kind: 'open' | 'escalate' | 'answer';
  order?: Order;
  caseId?: string;
  onClose: (done: boolean) => void;
}) {
  const { t, name } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // One command id per dialog: a retried submit is recognised by intake, not applied twice.
  const [commandId] = useState(newId);
  const submit = async (v: {
    caseId?: string;
    reason?: string;
    note?: string;
    answer?: string;
    due?: Dayjs;
  }) => {
    setBusy(true);
    setError(undefined);
    const due = v.due ? v.due.tz(ZONE, true).toISOString() : undefined;
    try {
      if (kind === 'open')
        await post('/api/orders', {
          commandId,
          caseId: v.caseId,
          reason: v.reason,
          note: v.note,
          responseDueAt: due,
        });
      else if (kind === 'escalate')
        await post(`/api/orders/${encodeURIComponent(order?.orderId ?? '')}/escalate`, {
          commandId,
          caseId: order?.caseId,
          reason: v.note,
          responseDueAt: due,
        });
      else
        await post(`/api/orders/${encodeURIComponent(order?.orderId ?? '')}/answer`, {
          commandId,
          caseId: order?.caseId,
          answer: v.answer,
        });
      void message.success(t('done'));
      onClose(true);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const title =
    kind === 'open' ? t('openOrder') : kind === 'escalate' ? t('escalate') : t('answer');
  return (
    <Modal
      open
      title={`${title}${order ? ` · ${order.orderId}` : ''}`}
      okText={t('submit')}
      cancelText={t('cancel')}
      confirmLoading={busy}
      onOk={() => form.submit()}
      onCancel={() => onClose(false)}
    >
      {error && <Alert type="error" title={error} style={{ marginBottom: 12 }} />}
      <Form
        form={form}
        layout="vertical"
        onFinish={(v) => void submit(v)}
        initialValues={{
          caseId,
          reason: 'OTHER',
          due: dayjs().tz(ZONE).add(15, 'day').startOf('day'),
        }}
      >
        {kind === 'open' && (
          <>
            <Form.Item name="caseId" label={t('caseId')} rules={[{ required: true }]}>
              <Input />
            </Form.Item>
            <Form.Item name="reason" label={t('reason')}>
              <Select
                options={REASONS.map((r) => ({ value: r, label: name(`SUPERVISION_REASON_${r}`) }))}
              />
            </Form.Item>
          </>
        )}
        {kind !== 'answer' && (
          <>
            <Form.Item name="note" label={t('note')}>
              <Input.TextArea rows={3} />
            </Form.Item>
            <Form.Item name="due" label={t('responseDue')}>
              <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" />
            </Form.Item>
          </>
        )}
        {kind === 'answer' && (
          <Form.Item name="answer" label={t('answerText')} rules={[{ required: true }]}>
            <Input.TextArea rows={4} />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}
