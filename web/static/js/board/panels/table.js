// Sortable tables: click a heading to sort by it, again to reverse.
import { h } from "/static/js/dom.js";

const sorting = new WeakMap(); // body -> {column, descending}

function compare(a, b) {
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), "ko");
}

export function renderTable(body, panel) {
  const { columns, rows } = panel.data;
  const sort = sorting.get(body);
  const sorted = [...rows];
  if (sort) {
    sorted.sort((x, y) => compare(x[sort.column], y[sort.column]) * (sort.descending ? -1 : 1));
  }
  const head = h(
    "tr",
    {},
    ...columns.map((name, index) =>
      h("th", {
        text: name + (sort?.column === index ? (sort.descending ? " ▼" : " ▲") : ""),
        scope: "col",
        onclick: () => {
          const same = sort?.column === index;
          sorting.set(body, { column: index, descending: same ? !sort.descending : false });
          renderTable(body, panel);
        },
      }),
    ),
  );
  const bodyRows = sorted.map((row) =>
    h("tr", {}, ...row.map((cell) => h("td", { text: cell === null ? "" : String(cell) }))),
  );
  body.replaceChildren(
    h("div", { className: "table-scroll" }, h("table", {}, h("thead", {}, head), h("tbody", {}, ...bodyRows))),
  );
}
