import * as echarts from 'echarts';

type Option = Parameters<echarts.ECharts['setOption']>[0];

const FONT = "'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', system-ui, sans-serif";
const PALETTE = ['#1f5aa6', '#e08a1e', '#2e8b57', '#c0392b', '#7d5ba6', '#5f7c8a'];

/**
 * zrender names CSS classes and clip paths after a process-wide instance
 * counter; renaming them after the chart keeps a page's bytes the same on
 * every render and its names unique within the page.
 */
function stableNames(svgText: string, id: string): string {
  const names = new Map<string, string>();
  return svgText.replace(/zr\d+-(?:cls-|c)\d+/g, (token) => {
    let name = names.get(token);
    if (!name) names.set(token, (name = `${id}-${names.size}`));
    return name;
  });
}

/** An SVG string rendered on the server by Apache ECharts; no browser, no animation. */
function svg(id: string, width: number, height: number, option: Option): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({
      animation: false,
      color: PALETTE,
      textStyle: { fontFamily: FONT },
      ...option,
    });
    return stableNames(chart.renderToSVGString(), id);
  } finally {
    chart.dispose();
  }
}

export interface Series {
  readonly name: string;
  readonly values: readonly number[];
}

export function monthlyChart(
  months: readonly string[],
  bars: readonly Series[],
  line: Series,
): string {
  return svg('monthly', 880, 320, {
    title: {
      text: '月度立案、结案与超期 Monthly flow',
      left: 'center',
      textStyle: { fontSize: 14 },
    },
    legend: { bottom: 0 },
    grid: { left: 56, right: 56, top: 48, bottom: 56 },
    xAxis: { type: 'category', data: months.map((m) => m.slice(5)) },
    yAxis: [
      { type: 'value', name: '案件 cases' },
      { type: 'value', name: '超期 overdue', splitLine: { show: false } },
    ],
    series: [
      ...bars.map((s) => ({ type: 'bar' as const, name: s.name, data: [...s.values] })),
      {
        type: 'line' as const,
        name: line.name,
        yAxisIndex: 1,
        data: [...line.values],
        symbolSize: 6,
      },
    ],
  });
}

export function rankingChart(
  id: string,
  title: string,
  names: readonly string[],
  values: readonly number[],
  unit: string,
  /** The top of the scale when it has one (scores: 100; shares: 100%). */
  max?: number,
): string {
  const height = Math.max(200, 40 + names.length * 30);
  return svg(id, 880, height, {
    title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
    grid: { left: 200, right: 64, top: 40, bottom: 24 },
    // Bars start at zero, so their lengths compare as the values do; the
    // labels give the exact values where they sit close together.
    xAxis: { type: 'value', name: unit, min: 0, ...(max !== undefined ? { max } : {}) },
    // ECharts draws the first category at the bottom: reverse so the best is on top.
    yAxis: {
      type: 'category',
      data: [...names].reverse(),
      axisLabel: { width: 190, overflow: 'break' },
    },
    series: [
      {
        type: 'bar',
        data: [...values].reverse(),
        label: {
          show: true,
          position: 'right',
          formatter: ({ value }: { value: unknown }) =>
            Number(value).toLocaleString('en-US', { maximumFractionDigits: 2 }),
        },
        itemStyle: { color: PALETTE[0] },
      },
    ],
  });
}

/**
 * Differences from a reference (the city's mean), for values that sit close
 * together: bars start at the reference, so 84.10 and 84.48 read as -0.52
 * and -0.14, not as bars of nearly equal length. Each bar is labelled with
 * its difference and its value.
 */
export function deviationChart(
  id: string,
  title: string,
  names: readonly string[],
  values: readonly number[],
  reference: number,
  unit: string,
): string {
  const height = Math.max(200, 56 + names.length * 30);
  const diffs = values.map((v) => Math.round((v - reference) * 100) / 100);
  const reach = Math.max(0.5, ...diffs.map((d) => Math.abs(d))) * 1.35;
  const signed = (d: number) => `${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(2)}`;
  return svg(id, 880, height, {
    title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
    grid: { left: 200, right: 40, top: 40, bottom: 40 },
    xAxis: {
      type: 'value',
      name: unit,
      nameLocation: 'middle',
      nameGap: 24,
      min: -reach,
      max: reach,
      // The ends of the axis are where the bars' labels fit, not round numbers: unlabelled.
      axisLabel: {
        showMinLabel: false,
        showMaxLabel: false,
        formatter: (v: number) => signed(Math.round(v * 100) / 100),
      },
    },
    yAxis: {
      type: 'category',
      data: [...names].reverse(),
      axisLabel: { width: 190, overflow: 'break' },
      axisLine: { show: false },
      axisTick: { show: false },
    },
    series: [
      {
        type: 'bar',
        data: diffs
          .map((d, i) => ({
            value: d,
            itemStyle: { color: d < 0 ? PALETTE[1] : PALETTE[0] },
            label: {
              show: true,
              position: d < 0 ? ('left' as const) : ('right' as const),
              formatter: `${signed(d)} (${(values[i] ?? 0).toFixed(2)})`,
            },
          }))
          .reverse(),
      },
    ],
  });
}

export function shareChart(
  id: string,
  title: string,
  parts: readonly { name: string; value: number }[],
): string {
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  return svg(id, 430, 280, {
    title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
    // Names in the legend, numbers at the ring: no label runs off the edge.
    legend: { bottom: 0 },
    series: [
      {
        type: 'pie',
        radius: ['38%', '62%'],
        center: ['50%', '48%'],
        label: {
          formatter: ({ value }: { value: unknown }) =>
            `${Number(value).toLocaleString('en-US')} (${total ? ((Number(value) / total) * 100).toFixed(1) : '0.0'}%)`,
        },
        data: parts.map((p) => ({ ...p })),
      },
    ],
  });
}
