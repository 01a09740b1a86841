// The participant list: people grouped by organisation (Seoul city, districts, agencies,
// guests), each with role, microphone and camera, speaking, raised hand and reconnecting
// state; for moderators also the queue of raised hands and each person's actions menu.
// Rows are kept and updated in place so an open menu survives updates.

import { h, placeAt } from "/static/js/dom.js";
import { icon } from "/static/js/icons.js";
import { config, orgGroupLabel, roleLabel, t } from "/static/js/i18n.js";

const KIND_ORDER = ["city", "district", "agency", "guest"];
const ROLE_ORDER = ["host", "moderator", "participant", "viewer"];
const byName = new Intl.Collator(config.lang).compare;

function groupKey(org) {
  return `${org?.kind ?? "guest"}:${org?.kind === "guest" ? "" : (org?.name ?? "")}`;
}

function compareGroups(a, b) {
  const rank =
    KIND_ORDER.indexOf(a.org?.kind ?? "guest") - KIND_ORDER.indexOf(b.org?.kind ?? "guest");
  return rank || byName(a.org?.name ?? "", b.org?.name ?? "");
}

export class Roster {
  // actions: a PersonActions (moderation.js), used while we may moderate
  constructor(client, actions) {
    this.client = client;
    this.actions = actions;
    this.list = document.getElementById("roster");
    this.queue = document.getElementById("hand-queue");
    this.rows = new Map(); // participant id -> row
    this.groups = new Map(); // group key -> {section, list}
    this.speaking = new Set();
  }

  people() {
    const everyone = [this.client.self, ...this.client.participants.values()];
    return everyone.filter((p) => p && p.role !== "display");
  }

  // participant id -> place in the queue of raised hands (1 = first)
  handOrder() {
    return new Map(this.client.hands.map((hand, index) => [hand.participantId, index + 1]));
  }

  setSpeaking(participantId, speaking) {
    if (speaking) this.speaking.add(participantId);
    else this.speaking.delete(participantId);
    this.rows.get(participantId)?.classList.toggle("speaking", speaking);
  }

  clear() {
    this.rows.clear();
    this.groups.clear();
    this.list.replaceChildren();
    this.queue.replaceChildren();
    this.speaking.clear();
  }

  render() {
    const people = this.people();
    const hands = this.handOrder();
    const moderating = this.client.can("moderate");
    const sortKey = (p) => [hands.get(p.id) ?? Infinity, ROLE_ORDER.indexOf(p.role)];
    people.sort((a, b) => {
      const [ha, ra] = sortKey(a);
      const [hb, rb] = sortKey(b);
      return ha - hb || ra - rb || byName(a.name, b.name);
    });

    const grouped = new Map();
    for (const person of people) {
      const key = groupKey(person.org);
      if (!grouped.has(key)) grouped.set(key, { org: person.org, members: [] });
      grouped.get(key).members.push(person);
    }
    const order = [...grouped.entries()].sort(([, a], [, b]) => compareGroups(a, b));
    order.forEach(([key, { org, members }], index) => {
      const group = this._group(key, org);
      group.count.textContent = String(members.length);
      placeAt(this.list, group.section, index);
      members.forEach((person, position) => {
        placeAt(group.list, this._row(person, hands.get(person.id) ?? 0, moderating), position);
      });
      while (group.list.children.length > members.length) group.list.lastElementChild.remove();
    });
    for (const [key, group] of this.groups) {
      if (!grouped.has(key)) {
        group.section.remove();
        this.groups.delete(key);
      }
    }
    const present = new Set(people.map((p) => p.id));
    for (const [id, row] of this.rows) {
      if (!present.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    this._renderQueue(hands, moderating);
  }

  _group(key, org) {
    let group = this.groups.get(key);
    if (!group) {
      const count = h("span", { className: "group-count" });
      const list = h("ul", { className: "group-members" });
      const section = h(
        "section",
        { className: "org-group", dataset: { org: key } },
        h("h3", {}, h("span", { text: orgGroupLabel(org) }), count),
        list,
      );
      group = { section, list, count };
      this.groups.set(key, group);
    }
    return group;
  }

  _row(person, handOrder, moderating) {
    let row = this.rows.get(person.id);
    if (!row) {
      row = h(
        "li",
        { className: "person", dataset: { participantId: person.id } },
        h("span", { className: "speaking-dot", "aria-hidden": "true" }),
        h(
          "div",
          { className: "person-main" },
          h("span", { className: "person-name" }),
          h("span", { className: "role-badge" }),
          h("span", { className: "person-status" }),
        ),
        h("span", { className: "hand-flag" }, icon("hand"), h("span", { className: "hand-order" })),
        h(
          "span",
          { className: "media-state" },
          h("span", { className: "mic" }),
          h("span", { className: "cam" }),
        ),
      );
      this.rows.set(person.id, row);
    }
    const isSelf = person.id === this.client.self?.id;
    row.querySelector(".person-name").textContent = isSelf
      ? `${person.name} (${t("room.you")})`
      : person.name;
    const badge = row.querySelector(".role-badge");
    badge.textContent = roleLabel(person.role);
    badge.dataset.role = person.role;
    let status = "";
    if (person.reconnecting) status = t("roster.reconnecting");
    else if (person.askedToSpeak) status = t("roster.asked_to_speak");
    row.querySelector(".person-status").textContent = status;
    row.classList.toggle("self", isSelf);
    row.classList.toggle("reconnecting", Boolean(person.reconnecting));
    row.classList.toggle("asked", Boolean(person.askedToSpeak));
    row.classList.toggle("speaking", this.speaking.has(person.id));
    row.classList.toggle("hand-raised", Boolean(handOrder));
    row.dataset.audioMuted = String(Boolean(person.audioMuted));
    row.dataset.videoMuted = String(Boolean(person.videoMuted));
    row.querySelector(".hand-order").textContent = handOrder ? String(handOrder) : "";
    row.querySelector(".hand-flag").title = handOrder ? t("roster.hand_raised") : "";
    this._mediaIcon(
      row.querySelector(".mic"),
      person.audioMuted ? "mic-off" : "mic",
      person.audioMuted ? t("roster.mic_off") : t("roster.mic_on"),
    );
    this._mediaIcon(
      row.querySelector(".cam"),
      person.videoMuted ? "cam-off" : "cam",
      person.videoMuted ? t("roster.cam_off") : t("roster.cam_on"),
    );
    if (moderating && !isSelf) this.actions.attach(row, person);
    else this.actions.detach(row);
    return row;
  }

  _mediaIcon(slot, name, label) {
    if (slot.dataset.icon === name) return;
    slot.dataset.icon = name;
    slot.title = label;
    slot.replaceChildren(icon(name, label));
  }

  // The raised hands in order, for moderators: who is next, and a way to lower each hand.
  _renderQueue(hands, moderating) {
    const ids = [...hands.keys()];
    this.queue.hidden = !moderating || ids.length === 0;
    if (this.queue.hidden) {
      this.queue.replaceChildren();
      return;
    }
    const names = new Map(this.people().map((p) => [p.id, p.name]));
    this.queue.replaceChildren(
      h("h3", { text: t("hands.queue", { count: ids.length }) }),
      h(
        "ol",
        {},
        ...ids.map((id) =>
          h(
            "li",
            { dataset: { participantId: id } },
            h("span", { text: names.get(id) ?? "?" }),
            h("button", {
              type: "button",
              className: "small ghost",
              text: t("hands.lower"),
              onclick: () => this.actions.lowerHand(id),
            }),
          ),
        ),
      ),
    );
  }
}
