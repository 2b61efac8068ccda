import { Button, Card, Radio, Space, Typography } from 'antd';
import { useI18n } from '../i18n.js';
import { useParam, YearAsOf } from './controls.js';

const FORMATS = [
  ['HTML', 'HTML'],
  ['CSV', 'CSV'],
  ['MARKDOWN', 'Markdown'],
  ['JSON', 'JSON'],
] as const;

/** The annual report for any year and as-of moment, rendered by reporting, with its downloads and digest. */
export function Report() {
  const { t } = useI18n();
  const [yearText, setYear] = useParam('year', String(new Date().getFullYear()));
  const [asOf, setAsOf] = useParam('asOf');
  const [basis, setBasis] = useParam('basis', 'RECORDED');
  const year = Number(yearText);
  const query = (format: string, download: boolean) =>
    `/api/report?${new URLSearchParams({
      year: String(year),
      format,
      basis,
      ...(asOf ? { asOf } : {}),
      ...(download ? { download: 'true' } : {}),
    }).toString()}`;
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t('report')}
      </Typography.Title>
      <Space wrap>
        <YearAsOf year={year} setYear={(y) => setYear(String(y))} asOf={asOf} setAsOf={setAsOf} />
        <Radio.Group
          aria-label={t('basis')}
          value={basis}
          onChange={(e) => setBasis(e.target.value as string)}
          options={[
            { value: 'RECORDED', label: t('basis_RECORDED') },
            { value: 'OCCURRED', label: t('basis_OCCURRED') },
          ]}
        />
      </Space>
      <Space wrap>
        {FORMATS.map(([f, label]) => (
          <Button key={f} href={query(f, true)} data-testid={`download-${f}`}>
            {t('download')} {label}
          </Button>
        ))}
      </Space>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        <iframe
          title={t('report')}
          src={query('HTML', false)}
          sandbox="allow-scripts"
          style={{ width: '100%', height: '75vh', border: 0 }}
        />
      </Card>
    </Space>
  );
}
