// Line and bar charts over time, several series: Apache ECharts (from the npm registry).
import * as echarts from "/vendor/echarts.esm.min.js";

const charts = new WeakMap(); // body element -> echarts instance
const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) charts.get(entry.target)?.resize();
});

export function renderChart(body, panel) {
  let chart = charts.get(body);
  if (!chart) {
    body.replaceChildren();
    chart = echarts.init(body, "dark", { renderer: "canvas" });
    charts.set(body, chart);
    resizer.observe(body);
  }
  const data = panel.data;
  chart.setOption(
    {
      backgroundColor: "transparent",
      animation: false,
      grid: { left: 48, right: 16, top: 32, bottom: 28 },
      legend: { top: 0, textStyle: { color: "#cfd8e3" } },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.categories, axisLabel: { color: "#93a4b5" } },
      yAxis: { type: "value", name: data.unit || "", axisLabel: { color: "#93a4b5" } },
      series: data.series.map((series) => ({
        name: series.name,
        type: data.type,
        data: series.values,
        smooth: data.type === "line",
        showSymbol: false,
      })),
    },
    { notMerge: true },
  );
}

export function disposeChart(body) {
  const chart = charts.get(body);
  if (chart) {
    resizer.unobserve(body);
    chart.dispose();
    charts.delete(body);
  }
}
