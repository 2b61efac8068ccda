import type { Lang } from './i18n.js';

/** The city's time: every moment is shown in Beijing time, whatever the browser's zone. */
export const ZONE = 'Asia/Shanghai';

const numbers = { zh: new Intl.NumberFormat('zh-CN'), en: new Intl.NumberFormat('en-US') };

export const count = (n: number | undefined, lang: Lang) => numbers[lang].format(n ?? 0);

export const decimal = (n: number | undefined, lang: Lang, digits = 2) =>
  new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(n ?? 0);

export const percent = (share: number | undefined, lang: Lang) =>
  new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', {
    style: 'percent',
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  }).format(share ?? 0);

/** Money from fen: 万元 with two decimals for Chinese readers, yuan for English ones. */
export function money(fen: number | undefined, lang: Lang): string {
  const yuan = (fen ?? 0) / 100;
  if (lang === 'zh') return `${decimal(yuan / 10_000, 'zh')} 万元`;
  return `¥${new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(yuan)}`;
}

/** A moment in Beijing time: 2021-03-04 10:05 (the date alone with `dateOnly`). */
export function moment(iso: string | undefined, dateOnly = false): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: ZONE,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  return dateOnly ? date : `${date} ${parts.hour}:${parts.minute}`;
}

/** A Beijing wall-clock time (from a datetime-local field) as an instant. */
export const fromBeijing = (local: string): string => new Date(`${local}:00+08:00`).toISOString();

/** Tag colours dark enough for white text at WCAG AA (antd's presets are not). */
export const TONE = { good: '#1b5e20', warn: '#8a4b00', bad: '#b71c1c' } as const;
