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

export function shareChart(
  id: string,
  title: string,
  parts: readonly { name: string; value: number }[],
): string {
  return svg(id, 430, 280, {
    title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
    legend: { bottom: 0 },
    series: [
      {
        type: 'pie',
        radius: ['38%', '64%'],
        center: ['50%', '50%'],
        label: { formatter: '{b}\n{c} ({d}%)', overflow: 'none' },
        data: parts.map((p) => ({ ...p })),
      },
    ],
  });
}
