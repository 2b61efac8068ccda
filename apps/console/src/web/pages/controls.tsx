import { DatePicker, InputNumber, Space } from 'antd';
import dayjs from 'dayjs';
import utc from 'dayjs/plugin/utc';
import timezone from 'dayjs/plugin/timezone';
import { useSearchParams } from 'react-router-dom';
import { useI18n } from '../i18n.js';
import { ZONE } from '../format.js';

dayjs.extend(utc);
dayjs.extend(timezone);

/** Changes several of the address's parameters at once ('' removes one). */
export function useSetParams(): (changes: Record<string, string>) => void {
  const [, setParams] = useSearchParams();
  return (changes) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        for (const [k, v] of Object.entries(changes)) {
          if (v) next.set(k, v);
          else next.delete(k);
        }
        return next;
      },
      { replace: true },
    );
}

/** A page's parameters live in its address, so a view can be bookmarked and shared. */
export function useParam(name: string, fallback = ''): [string, (v: string) => void] {
  const [params, setParams] = useSearchParams();
  return [
    params.get(name) ?? fallback,
    (v: string) =>
      setParams(
        (p) => {
          const next = new URLSearchParams(p);
          if (v) next.set(name, v);
          else next.delete(name);
          return next;
        },
        { replace: true },
      ),
  ];
}

/** Year and as-of moment (Beijing time), the figures' reproducibility handles. */
export function YearAsOf({
  year,
  setYear,
  asOf,
  setAsOf,
}: {
  year: number;
  setYear: (y: number) => void;
  asOf: string;
  setAsOf: (iso: string) => void;
}) {
  const { t } = useI18n();
  return (
    <Space wrap>
      <label>
        {t('year')}{' '}
        <InputNumber
          aria-label={t('year')}
          min={2000}
          max={2100}
          value={year}
          onChange={(v) => v && setYear(v)}
        />
      </label>
      <label>
        {t('asOf')}{' '}
        <DatePicker
          aria-label={t('asOf')}
          showTime={{ format: 'HH:mm' }}
          format="YYYY-MM-DD HH:mm"
          placeholder={t('now')}
          value={asOf ? dayjs(asOf).tz(ZONE) : null}
          onChange={(d) => setAsOf(d ? d.tz(ZONE, true).toISOString() : '')}
        />
      </label>
    </Space>
  );
}
