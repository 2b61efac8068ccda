import { Card, Col, Row, Statistic } from 'antd';
import { count, decimal, money, percent } from '../format.js';
import { useI18n, type Key } from '../i18n.js';
import type { Statistics } from '../types.js';

type Kind = 'count' | 'rate' | 'money' | 'score' | 'days';

/** The year's headline figures, in the order a supervision office reads them. */
export const HEADLINE: { key: Key; field: keyof Statistics; kind: Kind }[] = [
  { key: 'casesRegistered', field: 'casesRegistered', kind: 'count' },
  { key: 'casesConcluded', field: 'casesConcluded', kind: 'count' },
  { key: 'closureRateInYear', field: 'closureRateInYear', kind: 'rate' },
  { key: 'closureRate', field: 'closureRate', kind: 'rate' },
  { key: 'onTimeRate', field: 'onTimeRate', kind: 'rate' },
  { key: 'overdueCases', field: 'overdueCases', kind: 'count' },
  { key: 'meanHandlingDays', field: 'meanHandlingDays', kind: 'days' },
  { key: 'penalties', field: 'penalties', kind: 'count' },
  { key: 'penaltyTotal', field: 'penaltyTotalFen', kind: 'money' },
  { key: 'discretionAnomalies', field: 'discretionAnomalies', kind: 'count' },
  { key: 'ordersOpened', field: 'ordersOpened', kind: 'count' },
  { key: 'ordersAnsweredOnTime', field: 'ordersAnsweredOnTime', kind: 'count' },
  { key: 'ordersEscalated', field: 'ordersEscalated', kind: 'count' },
  { key: 'ordersAwaiting', field: 'ordersAwaiting', kind: 'count' },
  { key: 'reconsiderations', field: 'reconsiderationsAccepted', kind: 'count' },
  { key: 'correctionRate', field: 'correctionRate', kind: 'rate' },
  { key: 'meanEvaluation', field: 'meanScore', kind: 'score' },
];

export function formatFigure(value: number, kind: Kind, lang: 'zh' | 'en'): string {
  switch (kind) {
    case 'count':
      return count(value, lang);
    case 'rate':
      return percent(value, lang);
    case 'money':
      return money(value, lang);
    case 'score':
    case 'days':
      return decimal(value, lang, 2);
    default: {
      const _: never = kind;
      return String(_);
    }
  }
}

export function Figures({ stats }: { stats: Statistics | undefined }) {
  const { t, lang } = useI18n();
  return (
    <Row gutter={[12, 12]}>
      {HEADLINE.map((f) => {
        const raw = Number(stats?.[f.field] ?? 0);
        return (
          <Col key={f.key} xs={12} sm={8} md={6} lg={4} xl={4}>
            <Card size="small" data-testid={`figure-${f.field}`} data-value={raw}>
              <Statistic title={t(f.key)} value={formatFigure(raw, f.kind, lang)} />
            </Card>
          </Col>
        );
      })}
    </Row>
  );
}
