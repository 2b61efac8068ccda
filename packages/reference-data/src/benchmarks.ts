/**
 * Discretion benchmarks (裁量基准, Administrative Penalty Law Art. 34): for a
 * violation code, the statutory fine range, and for each severity grade the
 * narrower range the agency published. Amounts are in fen (1/100 yuan).
 */

export type Grade = 'MINOR' | 'GENERAL' | 'SERIOUS' | 'VERY_SERIOUS';
export const GRADES: readonly Grade[] = ['MINOR', 'GENERAL', 'SERIOUS', 'VERY_SERIOUS'];

export interface FineRange {
  readonly minFen: number;
  readonly maxFen: number;
}

export interface BenchmarkEntry {
  readonly violationCode: string;
  readonly title: string;
  readonly legalBasis: string;
  readonly statutory: FineRange;
  readonly grades: Readonly<Record<Grade, FineRange>>;
  /** A decision with a fine at or above this is a major decision (重大执法决定): legal review first. */
  readonly majorFromFen: number;
}

export interface BenchmarkTable {
  readonly version: string;
  readonly effectiveFrom: string;
  /** Fines at or above these give the party a right to a hearing (Art. 63, 较大数额罚款). */
  readonly hearingFromFen: { readonly person: number; readonly organization: number };
  readonly entries: ReadonlyMap<string, BenchmarkEntry>;
}

const yuan = (n: number) => n * 100;

function entry(
  violationCode: string,
  title: string,
  legalBasis: string,
  [min, max]: [number, number],
  bands: [number, number, number],
  majorFrom: number,
): BenchmarkEntry {
  const [b1, b2, b3] = bands;
  return {
    violationCode,
    title,
    legalBasis,
    statutory: { minFen: yuan(min), maxFen: yuan(max) },
    grades: {
      MINOR: { minFen: yuan(min), maxFen: yuan(b1) },
      GENERAL: { minFen: yuan(b1), maxFen: yuan(b2) },
      SERIOUS: { minFen: yuan(b2), maxFen: yuan(b3) },
      VERY_SERIOUS: { minFen: yuan(b3), maxFen: yuan(max) },
    },
    majorFromFen: yuan(majorFrom),
  };
}

const entries2021: BenchmarkEntry[] = [
  entry(
    'ENV-AIR-001',
    '超标排放大气污染物',
    '《大气污染防治法》第九十九条',
    [100_000, 1_000_000],
    [200_000, 400_000, 700_000],
    300_000,
  ),
  entry(
    'ENV-WATER-002',
    '超标排放水污染物',
    '《水污染防治法》第八十三条',
    [100_000, 1_000_000],
    [200_000, 400_000, 700_000],
    300_000,
  ),
  entry(
    'ENV-WASTE-003',
    '违法贮存处置危险废物',
    '《固体废物污染环境防治法》第一百一十二条',
    [100_000, 1_000_000],
    [200_000, 500_000, 800_000],
    300_000,
  ),
  entry(
    'ENV-NOISE-004',
    '建筑施工噪声超标',
    '《噪声污染防治法》第七十七条',
    [10_000, 100_000],
    [20_000, 50_000, 80_000],
    50_000,
  ),
  entry(
    'MKT-FOOD-001',
    '经营不符合食品安全标准的食品',
    '《食品安全法》第一百二十四条',
    [50_000, 100_000],
    [60_000, 75_000, 90_000],
    50_000,
  ),
  entry(
    'MKT-PRICE-002',
    '不明码标价',
    '《价格法》第四十二条',
    [0, 5_000],
    [1_000, 2_500, 4_000],
    5_000,
  ),
  entry(
    'MKT-LICENSE-003',
    '无照经营',
    '《无证无照经营查处办法》第十三条',
    [0, 10_000],
    [2_000, 5_000, 8_000],
    10_000,
  ),
  entry(
    'PS-ORDER-001',
    '扰乱公共秩序',
    '《治安管理处罚法》第二十三条',
    [0, 500],
    [100, 200, 350],
    500,
  ),
  entry(
    'PS-FIRE-002',
    '消防设施未保持完好有效',
    '《消防法》第六十条',
    [5_000, 50_000],
    [15_000, 25_000, 40_000],
    30_000,
  ),
  entry(
    'HEALTH-MED-001',
    '未取得医疗机构执业许可证擅自执业',
    '《基本医疗卫生与健康促进法》第九十九条',
    [50_000, 200_000],
    [80_000, 120_000, 160_000],
    100_000,
  ),
  entry(
    'HEALTH-PUB-002',
    '公共场所卫生不合格',
    '《公共场所卫生管理条例》第十四条',
    [0, 30_000],
    [5_000, 15_000, 25_000],
    20_000,
  ),
  entry(
    'AGRI-FISH-001',
    '禁渔期内非法捕捞',
    '《渔业法》第三十八条',
    [0, 50_000],
    [5_000, 20_000, 35_000],
    30_000,
  ),
  entry(
    'AGRI-PEST-002',
    '违法经营农药',
    '《农药管理条例》第五十五条',
    [5_000, 50_000],
    [15_000, 25_000, 40_000],
    30_000,
  ),
  entry(
    'WATER-SAND-001',
    '河道内非法采砂',
    '《广西壮族自治区河道采砂管理条例》第三十三条',
    [10_000, 300_000],
    [50_000, 120_000, 200_000],
    100_000,
  ),
  entry(
    'WATER-INTAKE-002',
    '未经批准擅自取水',
    '《水法》第六十九条',
    [20_000, 100_000],
    [40_000, 60_000, 80_000],
    50_000,
  ),
  entry(
    'URBAN-BUILD-001',
    '违法建设',
    '《城乡规划法》第六十四条',
    [5_000, 200_000],
    [30_000, 80_000, 140_000],
    100_000,
  ),
  entry(
    'TRANS-OVER-001',
    '车辆超限运输',
    '《公路法》第七十六条',
    [0, 30_000],
    [5_000, 15_000, 25_000],
    20_000,
  ),
  entry(
    'NATRES-LAND-001',
    '非法占用土地',
    '《土地管理法》第七十七条',
    [10_000, 500_000],
    [60_000, 150_000, 300_000],
    200_000,
  ),
];

/** Liuzhou's published benchmarks in force for 2021 (simplified for the demo). */
export const BENCHMARKS_2021: BenchmarkTable = {
  version: 'LZ-2021.1',
  effectiveFrom: '2021-01-01',
  hearingFromFen: { person: yuan(10_000), organization: yuan(100_000) },
  entries: new Map(entries2021.map((e) => [e.violationCode, e])),
};

export type BenchmarkVerdict =
  | { readonly kind: 'UNKNOWN_VIOLATION' }
  | { readonly kind: 'OUTSIDE_STATUTORY'; readonly range: FineRange }
  | { readonly kind: 'INSIDE'; readonly range: FineRange; readonly atEdge: boolean }
  | {
      readonly kind: 'OUTSIDE_BENCHMARK';
      readonly range: FineRange;
      readonly statutory: FineRange;
    };

/** Where a fine for `violationCode` at `grade` falls in the table. */
export function judgeFine(
  table: BenchmarkTable,
  violationCode: string,
  grade: Grade,
  fineFen: number,
): BenchmarkVerdict {
  const e = table.entries.get(violationCode);
  if (!e) return { kind: 'UNKNOWN_VIOLATION' };
  if (fineFen < e.statutory.minFen || fineFen > e.statutory.maxFen)
    return { kind: 'OUTSIDE_STATUTORY', range: e.statutory };
  const range = e.grades[grade];
  if (fineFen < range.minFen || fineFen > range.maxFen)
    return { kind: 'OUTSIDE_BENCHMARK', range, statutory: e.statutory };
  return { kind: 'INSIDE', range, atEdge: fineFen === range.minFen || fineFen === range.maxFen };
}
