// The room page's "벽면 화면" section, for hosts and moderators: pair a wall by the code it
// shows, see the paired walls (and whether each is showing), unpair one, and choose what every
// wall of the room shows ("show on the wall": grid, speaker, board, split, spotlight on a
// person or a panel).

import { h } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";

const LAYOUTS = ["grid", "speaker", "board", "split", "spotlight"];

export class WallControls {
  constructor(client, board) {
    this.client = client; // RoomClient
    this.board = board; // BoardClient: the panels a spotlight may show
    this.section = document.getElementById("wall-controls");
    this.code = document.getElementById("wall-code");
    this.name = document.getElementById("wall-name");
    this.result = document.getElementById("wall-pair-result");
    this.list = document.getElementById("wall-list");
    this.spotlight = document.getElementById("wall-spotlight");
    this.buttons = [...this.section.querySelectorAll("[data-wall-layout]")];
    document.getElementById("wall-pair-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.pair();
    });
    for (const button of this.buttons) {
      button.addEventListener("click", () => this.show(button.dataset.wallLayout));
    }
    this.spotlight.addEventListener("change", () => this.show("spotlight"));
    for (const type of ["joined", "walls-updated", "wall-layout", "permissions-changed"]) {
      client.addEventListener(type, () => this.render());
    }
    for (const type of ["participant-joined", "participant-left", "participant-updated"]) {
      client.addEventListener(type, () => this.renderSpotlightChoices());
    }
    board.state.addEventListener("change", ({ detail }) => {
      if (detail.reason !== "feed") this.renderSpotlightChoices();
    });
  }

  say(text, kind = "info") {
    this.result.textContent = text;
    this.result.dataset.kind = kind;
  }

  async pair() {
    const code = this.code.value.trim();
    if (!code) return;
    try {
      const wall = await this.client.pairWall(code, this.name.value.trim());
      this.code.value = "";
      this.say(t("wall.paired", { name: wall.name }));
    } catch (error) {
      const known = { wrong_code: "wall.wrong_code", rate_limited: "wall.rate_limited" };
      this.say(known[error.code] ? t(known[error.code]) : error.message, "error");
    }
  }

  async unpair(wall) {
    try {
      await this.client.unpairWall(wall.id);
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  // The chosen spotlight: "" = the current speaker, "p:<id>" a person, "panel:<id>" a panel.
  chosenSpotlight() {
    const [kind, id] = this.spotlight.value.split(/:(.*)/s);
    if (kind === "p") return { participantId: id };
    if (kind === "panel") return { panelId: id };
    return null;
  }

  async show(layout) {
    try {
      await this.client.setWallLayout(layout, layout === "spotlight" ? this.chosenSpotlight() : null);
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  renderSpotlightChoices() {
    const current = this.client.wallLayout?.spotlight;
    const selected = current?.participantId
      ? `p:${current.participantId}`
      : current?.panelId
        ? `panel:${current.panelId}`
        : this.spotlight.value;
    const options = [h("option", { value: "", text: t("wall.spotlight_speaker") })];
    for (const person of this.client.participants.values()) {
      options.push(h("option", { value: `p:${person.id}`, text: person.name }));
    }
    if (this.client.self && this.client.self.role !== "display") {
      const self = this.client.self;
      options.push(h("option", { value: `p:${self.id}`, text: `${self.name} (${t("room.you")})` }));
    }
    for (const panel of this.board.state.panels.values()) {
      options.push(
        h("option", { value: `panel:${panel.id}`, text: t("wall.spotlight_panel", { title: panel.title }) }),
      );
    }
    this.spotlight.replaceChildren(...options);
    this.spotlight.value = options.some((o) => o.value === selected) ? selected : "";
  }

  render() {
    const allowed = this.client.can("moderate");
    this.section.hidden = !allowed;
    if (!allowed) return;
    const walls = this.client.walls ?? [];
    this.list.replaceChildren(
      ...(walls.length
        ? walls.map((wall) =>
            h(
              "li",
              { dataset: { wallId: wall.id, online: String(Boolean(wall.online)) } },
              h("span", { className: "wall-dot", title: t(wall.online ? "wall.online" : "wall.offline") }),
              h("span", { className: "wall-name", text: wall.name }),
              h("small", { text: t(wall.online ? "wall.online" : "wall.offline") }),
              h("button", {
                type: "button",
                className: "small ghost unpair",
                text: t("wall.unpair"),
                onclick: () => this.unpair(wall),
              }),
            ),
          )
        : [h("li", { className: "wall-none", text: t("wall.none") })]),
    );
    const layout = this.client.wallLayout?.layout ?? "grid";
    for (const button of this.buttons) {
      button.setAttribute("aria-pressed", String(button.dataset.wallLayout === layout));
    }
    this.renderSpotlightChoices();
  }
}

export { LAYOUTS };
