// KPI tiles: value, unit, change and, with a target, progress toward it.
import { h } from "/static/js/dom.js";

const number = new Intl.NumberFormat(document.documentElement.lang || "ko", {
  maximumFractionDigits: 2,
});

export function renderKpi(body, panel) {
  body.replaceChildren(
    h(
      "div",
      { className: "kpi-grid" },
      ...panel.data.items.map((item) => {
        const tile = h(
          "div",
          { className: "kpi" },
          h("div", { className: "kpi-label", text: item.label }),
          h(
            "div",
            { className: "kpi-value" },
            h("span", { text: number.format(item.value) }),
            h("small", { text: item.unit ?? "" }),
          ),
        );
        if (typeof item.change === "number" && item.change !== 0) {
          const up = item.change > 0;
          tile.append(
            h("div", {
              className: `kpi-change ${up ? "up" : "down"}`,
              text: `${up ? "▲" : "▼"} ${number.format(Math.abs(item.change))}`,
            }),
          );
        }
        if (typeof item.target === "number" && item.target > 0) {
          const percent = Math.max(0, Math.min(100, (item.value / item.target) * 100));
          const bar = h("div", { className: "kpi-progress" }, h("span"));
          bar.firstChild.style.width = `${percent}%`;
          tile.append(bar, h("div", { className: "kpi-target", text: `/ ${number.format(item.target)}` }));
        }
        return tile;
      }),
    ),
  );
}
