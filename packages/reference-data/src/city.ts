/** Liuzhou: 5 districts and 5 counties. */
export const DISTRICTS = [
  '城中区',
  '鱼峰区',
  '柳南区',
  '柳北区',
  '柳江区',
  '柳城县',
  '鹿寨县',
  '融安县',
  '融水苗族自治县',
  '三江侗族自治县',
] as const;

export type District = (typeof DISTRICTS)[number];

/** Statutory decision deadline (Art. 60): 90 days from registration unless extended. */
export const STATUTORY_DEADLINE_DAYS = 90;

/** Enforcement domains, numbered as `enforcement.events.v1.Domain`. */
export const DOMAIN = {
  ENVIRONMENT: 1,
  PUBLIC_SECURITY: 2,
  HEALTH: 3,
  AGRICULTURE: 4,
  WATER: 5,
  MARKET_REGULATION: 6,
  URBAN_MANAGEMENT: 7,
  TRANSPORT: 8,
  NATURAL_RESOURCES: 9,
} as const;

export interface Agency {
  readonly id: string;
  readonly name: string;
  readonly domain: (typeof DOMAIN)[keyof typeof DOMAIN];
  /** Violation codes of the benchmark table this agency enforces. */
  readonly violationCodes: readonly string[];
  /** Relative share of the city's cases. */
  readonly weight: number;
}

/** The city's enforcement agencies (municipal level). */
export const AGENCIES: readonly Agency[] = [
  {
    id: 'lz-eeb',
    name: '柳州市生态环境局',
    domain: DOMAIN.ENVIRONMENT,
    violationCodes: ['ENV-AIR-001', 'ENV-WATER-002', 'ENV-WASTE-003', 'ENV-NOISE-004'],
    weight: 12,
  },
  {
    id: 'lz-psb',
    name: '柳州市公安局',
    domain: DOMAIN.PUBLIC_SECURITY,
    violationCodes: ['PS-ORDER-001', 'PS-FIRE-002'],
    weight: 22,
  },
  {
    id: 'lz-hc',
    name: '柳州市卫生健康委员会',
    domain: DOMAIN.HEALTH,
    violationCodes: ['HEALTH-MED-001', 'HEALTH-PUB-002'],
    weight: 8,
  },
  {
    id: 'lz-agri',
    name: '柳州市农业农村局',
    domain: DOMAIN.AGRICULTURE,
    violationCodes: ['AGRI-FISH-001', 'AGRI-PEST-002'],
    weight: 7,
  },
  {
    id: 'lz-water',
    name: '柳州市水利局',
    domain: DOMAIN.WATER,
    violationCodes: ['WATER-SAND-001', 'WATER-INTAKE-002'],
    weight: 4,
  },
  {
    id: 'lz-amr',
    name: '柳州市市场监督管理局',
    domain: DOMAIN.MARKET_REGULATION,
    violationCodes: ['MKT-FOOD-001', 'MKT-PRICE-002', 'MKT-LICENSE-003'],
    weight: 25,
  },
  {
    id: 'lz-urban',
    name: '柳州市城市管理行政执法局',
    domain: DOMAIN.URBAN_MANAGEMENT,
    violationCodes: ['URBAN-BUILD-001'],
    weight: 12,
  },
  {
    id: 'lz-transport',
    name: '柳州市交通运输局',
    domain: DOMAIN.TRANSPORT,
    violationCodes: ['TRANS-OVER-001'],
    weight: 6,
  },
  {
    id: 'lz-natres',
    name: '柳州市自然资源和规划局',
    domain: DOMAIN.NATURAL_RESOURCES,
    violationCodes: ['NATRES-LAND-001'],
    weight: 4,
  },
];

export const agencyName = (id: string): string => AGENCIES.find((a) => a.id === id)?.name ?? id;

/** Display names of the domains, by number. */
export const DOMAIN_NAMES: Readonly<Record<number, string>> = {
  1: '生态环境',
  2: '公安',
  3: '卫生健康',
  4: '农业农村',
  5: '水利',
  6: '市场监管',
  7: '城市管理',
  8: '交通运输',
  9: '自然资源',
};

/** The city's time zone: UTC+8 all year. */
export const CITY_UTC_OFFSET_MS = 8 * 3_600_000;

/** The instant a local calendar date (month 1-12) begins in the city. */
export const cityDate = (year: number, month = 1, day = 1): Date =>
  new Date(Date.UTC(year, month - 1, day) - CITY_UTC_OFFSET_MS);

/** Local calendar parts of an instant. */
export function cityParts(at: Date | number): { year: number; month: number; day: number } {
  const local = new Date((typeof at === 'number' ? at : at.getTime()) + CITY_UTC_OFFSET_MS);
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
}

/**
 * The statutory deadline of a case registered at `registeredAt` (Art. 60):
 * the last millisecond of the 90th day after the day of registration, in
 * the city's time. The day of registration is not counted and the period
 * runs to 24:00 of its last day, so a case registered on 1 March at any hour
 * is due by the end of 30 May, and one concluded on 30 May is in time. Until
 * 2026-12-07 it was the moment of registration plus 90 × 24 hours, and a
 * case registered at 09:00 and concluded at 15:00 of its 90th day was
 * overdue.
 */
export function statutoryDueAt(registeredAt: Date | number): Date {
  const { year, month, day } = cityParts(registeredAt);
  return new Date(cityDate(year, month, day + STATUTORY_DEADLINE_DAYS + 1).getTime() - 1);
}

/**
 * A moment as the city reads it, for what people read (rule notes):
 * `2021-05-30 24:00 UTC+8` for the end of a day (a statutory deadline),
 * otherwise `2021-06-05 14:32 UTC+8`, with seconds when it has any.
 */
export function cityMoment(at: Date | number): string {
  const t = typeof at === 'number' ? at : at.getTime();
  const endOfDay = (t + 1 + CITY_UTC_OFFSET_MS) % 86_400_000 === 0;
  const local = new Date((endOfDay ? t + 1 - 86_400_000 : t) + CITY_UTC_OFFSET_MS).toISOString();
  const day = local.slice(0, 10);
  if (endOfDay) return `${day} 24:00 UTC+8`;
  const seconds = local.slice(17, 19);
  return `${day} ${local.slice(11, 16)}${seconds === '00' ? '' : `:${seconds}`} UTC+8`;
}

/** Whole days from `from` to `to` on the city's calendar. */
export function cityDaysBetween(from: Date | number, to: Date | number): number {
  const day = 86_400_000;
  const ms = (d: Date | number) => (typeof d === 'number' ? d : d.getTime()) + CITY_UTC_OFFSET_MS;
  return Math.floor(ms(to) / day) - Math.floor(ms(from) / day);
}

/** The city, and the office that supervises its administrative law enforcement and issues the annual report. */
export const CITY = {
  name: '柳州市',
  supervisionOffice: '柳州市司法局',
} as const;
