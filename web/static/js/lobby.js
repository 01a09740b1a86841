// The lobby card moderators see while someone waits: name and organisation of each, with
// admit and deny.

import { h } from "/static/js/dom.js";
import { orgGroupLabel, t } from "/static/js/i18n.js";
import { notify } from "/static/js/notices.js";

export class LobbyCard {
  constructor(client) {
    this.client = client;
    this.element = document.getElementById("lobby");
    this.list = document.getElementById("lobby-list");
    this.heading = document.getElementById("lobby-heading");
  }

  render() {
    const waiting = this.client.can("moderate") ? this.client.lobby : [];
    this.element.hidden = waiting.length === 0;
    this.heading.textContent = t("lobby.heading", { count: waiting.length });
    this.list.replaceChildren(
      ...waiting.map((person) =>
        h(
          "li",
          { dataset: { participantId: person.id } },
          h(
            "div",
            { className: "who" },
            h("span", { className: "person-name", text: person.name }),
            h("span", { className: "org", text: orgGroupLabel(person.org) }),
          ),
          h("button", {
            type: "button",
            className: "small admit",
            text: t("lobby.admit"),
            onclick: () => this._answer(() => this.client.admit(person.id)),
          }),
          h("button", {
            type: "button",
            className: "small ghost deny",
            text: t("lobby.deny"),
            onclick: () => this._answer(() => this.client.deny(person.id)),
          }),
        ),
      ),
    );
  }

  async _answer(action) {
    try {
      await action();
    } catch (error) {
      // another moderator answered first: the next lobby-updated will show it
      if (error.code !== "not_waiting")
        notify(`${t("room.error")}: ${error.message}`, { kind: "error" });
    }
  }
}
