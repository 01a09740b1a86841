// The board as this screen knows it: a snapshot, then every numbered operation in order. An
// operation that does not follow the last one means something was missed: ask for a fresh
// snapshot. Feed values change bound panels here too, so every renderer sees plain data.

const CHART_POINTS = 60;

export class BoardState extends EventTarget {
  constructor() {
    super();
    this.seq = 0;
    this.layout = 4;
    this.focus = null;
    this.panels = new Map(); // id -> panel, in board order
    this.feedUpdatedAt = new Map(); // channel -> time of its last value (ms)
    this.pointer = null;
  }

  _changed(reason, panelId = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: { reason, panelId } }));
  }

  loadSnapshot({ board, feeds = {} }) {
    this.seq = board.seq;
    this.layout = board.layout;
    this.focus = board.focus;
    this.panels = new Map(board.panels.map((panel) => [panel.id, panel]));
    for (const [channel, values] of Object.entries(feeds)) {
      for (const value of values) this.applyFeedValue(channel, value, false);
    }
    this._changed("snapshot");
  }

  // Returns false when the operation does not follow: the caller asks for a snapshot.
  applyOp(op) {
    if (op.seq <= this.seq) return true; // already have it (our own, echoed)
    if (op.seq !== this.seq + 1) return false;
    const p = op.payload;
    switch (op.type) {
      case "push":
        this.panels.set(p.panel.id, p.panel);
        break;
      case "update": {
        const panel = this.panels.get(p.panelId);
        if ("title" in p) panel.title = p.title;
        if ("data" in p) panel.data = p.data;
        if ("feed" in p) panel.feed = p.feed;
        panel.updatedAt = p.updatedAt;
        break;
      }
      case "move": {
        const order = [...this.panels.keys()].filter((id) => id !== p.panelId);
        order.splice(p.index, 0, p.panelId);
        this.panels = new Map(order.map((id) => [id, this.panels.get(id)]));
        break;
      }
      case "resize":
        this.panels.get(p.panelId).size = p.size;
        break;
      case "remove":
        this.panels.delete(p.panelId);
        if (this.focus === p.panelId) this.focus = null;
        break;
      case "focus":
        this.focus = p.panelId;
        break;
      case "layout":
        this.layout = p.layout;
        break;
      case "clear":
        this.panels.clear();
        this.focus = null;
        break;
      case "page":
        this.panels.get(p.panelId).data.page = p.page;
        break;
      default:
        return false;
    }
    this.seq = op.seq;
    this._changed(op.type, p?.panelId ?? p?.panel?.id ?? null);
    return true;
  }

  applyFeedValue(channel, value, notify = true) {
    this.feedUpdatedAt.set(channel, (value.at ?? Date.now() / 1000) * 1000);
    for (const panel of this.panels.values()) {
      if (panel.feed !== channel) continue;
      applyToPanel(panel, value);
      panel.feedAt = value.at ?? Date.now() / 1000;
      if (notify) this._changed("feed", panel.id);
    }
  }
}

// How a feed value changes a panel of each kind (signaling/dashboards.py documents it).
function applyToPanel(panel, value) {
  const data = panel.data;
  if (panel.kind === "kpi" && Array.isArray(value.items)) {
    data.items = value.items;
  } else if (panel.kind === "chart") {
    if (Array.isArray(value.categories) && Array.isArray(value.series)) {
      data.categories = value.categories;
      data.series = value.series;
    } else if (value.category !== undefined && value.values) {
      if (data.categories.length === 1 && data.categories[0] === "-") {
        data.categories = [];
        for (const series of data.series) series.values = [];
      }
      data.categories.push(String(value.category));
      for (const series of data.series) series.values.push(value.values[series.name] ?? null);
      if (data.categories.length > CHART_POINTS) {
        data.categories.shift();
        for (const series of data.series) series.values.shift();
      }
    }
  } else if (panel.kind === "table" && Array.isArray(value.rows)) {
    data.rows = value.rows;
  } else if (panel.kind === "map" && value.values) {
    const property = data.valueProperty || "value";
    const label = data.labelProperty || "name";
    for (const feature of data.geojson.features) {
      const name = feature.properties?.[label];
      if (name in value.values) feature.properties[property] = value.values[name];
    }
  }
}
