// Draws a BoardState: a grid of 1, 2, 4 or 6 panels (or one focused panel, full size), each
// in a frame with its title, who pushed it and for which organisation, and when its data last
// changed; a panel fed by a late feed looks stale.
import { h } from "/static/js/dom.js";
import { orgLabel, t } from "/static/js/i18n.js";
import { disposeChart, renderChart } from "./panels/chart.js";
import { renderKpi } from "./panels/kpi.js";
import { renderMap } from "./panels/map.js";
import { renderDocument, renderImage, renderNote, renderVideo, showPointer } from "./panels/media.js";
import { renderTable } from "./panels/table.js";

const STALE_AFTER_SECONDS = 15;
const RENDERERS = {
  kpi: renderKpi,
  chart: renderChart,
  table: renderTable,
  map: renderMap,
  document: renderDocument,
  image: renderImage,
  note: renderNote,
  video: renderVideo,
};
const clock = new Intl.DateTimeFormat(document.documentElement.lang || "ko", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export class BoardView {
  // actions: {focus(id|null), remove(id), page(id, page), pointer(id, point)}; can(panel, what)
  constructor(container, state, { actions, can }) {
    this.container = container;
    this.state = state;
    this.actions = actions;
    this.can = can;
    this.frames = new Map(); // panel id -> frame element
    this.grid = h("div", { className: "board-grid" });
    this.empty = h("p", { className: "board-empty", text: t("board.empty") });
    container.replaceChildren(this.grid, this.empty);
    state.addEventListener("change", (event) => this.render(event.detail));
    setInterval(() => this.markStale(), 5000);
    this.render({ reason: "snapshot" });
  }

  render({ reason, panelId }) {
    const state = this.state;
    this.grid.dataset.layout = String(state.layout);
    this.grid.classList.toggle("focused", Boolean(state.focus));
    this.empty.hidden = state.panels.size > 0;
    if (reason === "feed" || reason === "update" || reason === "page") {
      const panel = state.panels.get(panelId);
      if (panel) this.renderPanel(panel);
      return;
    }
    for (const [id, frame] of this.frames) {
      if (!state.panels.has(id)) {
        const body = frame.querySelector(".panel-body");
        disposeChart(body);
        frame.remove();
        this.frames.delete(id);
      }
    }
    let index = 0;
    for (const panel of state.panels.values()) {
      const frame = this.frames.get(panel.id) ?? this.makeFrame(panel);
      if (this.grid.children[index] !== frame) this.grid.insertBefore(frame, this.grid.children[index] ?? null);
      frame.classList.toggle("focus", state.focus === panel.id);
      frame.hidden = Boolean(state.focus) && state.focus !== panel.id;
      frame.dataset.w = String(panel.size?.w ?? 1);
      frame.dataset.h = String(panel.size?.h ?? 1);
      this.renderPanel(panel);
      index += 1;
    }
  }

  makeFrame(panel) {
    const frame = h(
      "section",
      { className: "panel-frame", dataset: { panelId: panel.id, kind: panel.kind } },
      h(
        "header",
        { className: "panel-head" },
        h("h3", { className: "panel-title" }),
        h("span", { className: "panel-owner" }),
        h("span", { className: "panel-actions" }),
      ),
      h("div", { className: "panel-body" }),
      h("footer", { className: "panel-foot" }),
    );
    this.frames.set(panel.id, frame);
    return frame;
  }

  renderPanel(panel) {
    const frame = this.frames.get(panel.id);
    if (!frame) return;
    frame.querySelector(".panel-title").textContent = panel.title;
    frame.querySelector(".panel-owner").textContent = `${orgLabel(panel.org)} · ${panel.ownerName}`;
    this.renderActions(frame, panel);
    const body = frame.querySelector(".panel-body");
    RENDERERS[panel.kind]?.(body, panel, {
      canPresent: this.can(panel, "present"),
      onPointer: (point) => this.actions.pointer(panel.id, point),
    });
    const at = panel.feed ? panel.feedAt : panel.updatedAt;
    frame.querySelector(".panel-foot").textContent = at
      ? `${panel.feed ? t("board.live") + " · " : ""}${t("board.updated")} ${clock.format(new Date(at * 1000))}`
      : "";
    this.markStale();
  }

  renderActions(frame, panel) {
    const box = frame.querySelector(".panel-actions");
    const buttons = [];
    if (panel.kind === "document" && this.can(panel, "present")) {
      const { page, pageCount } = panel.data;
      buttons.push(
        h("button", { className: "panel-button", text: "◀", title: t("board.previous_page"), disabled: page <= 1, onclick: () => this.actions.page(panel.id, page - 1) }),
        h("button", { className: "panel-button", text: "▶", title: t("board.next_page"), disabled: page >= pageCount, onclick: () => this.actions.page(panel.id, page + 1) }),
      );
    }
    if (this.can(panel, "focus")) {
      const focused = this.state.focus === panel.id;
      buttons.push(h("button", { className: "panel-button", text: focused ? "⤡" : "⤢", title: t(focused ? "board.unfocus" : "board.focus"), onclick: () => this.actions.focus(focused ? null : panel.id) }));
    }
    if (this.can(panel, "remove")) {
      buttons.push(h("button", { className: "panel-button", text: "✕", title: t("board.remove"), onclick: () => this.actions.remove(panel.id) }));
    }
    box.replaceChildren(...buttons);
  }

  markStale() {
    const now = Date.now() / 1000;
    for (const panel of this.state.panels.values()) {
      const frame = this.frames.get(panel.id);
      if (!frame || !panel.feed) continue;
      frame.classList.toggle("stale", !panel.feedAt || now - panel.feedAt > STALE_AFTER_SECONDS);
    }
  }

  showPointer(pointer) {
    const frame = this.frames.get(pointer.panelId);
    if (frame) showPointer(frame.querySelector(".panel-body"), pointer);
  }
}
