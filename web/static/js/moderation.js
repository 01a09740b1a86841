// What a moderator does, as UI: the actions menu on each person in the roster, and the
// room-wide controls (mute all, lock, lobby, who may unmute, end the meeting). Every action
// goes through RoomClient; a refusal from the server becomes a notice.

import { ask } from "/static/js/dialogs.js";
import { h } from "/static/js/dom.js";
import { roleLabel, t } from "/static/js/i18n.js";
import { notify } from "/static/js/notices.js";

const ASSIGNABLE_ROLES = ["participant", "viewer", "moderator", "host"];

async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    notify(`${t("room.error")}: ${error.message}`, { kind: "error" });
    return null;
  }
}

// One actions menu open at a time, opening upwards when it would run past the panel's end.
function openBesideOthers(menu) {
  for (const other of document.querySelectorAll(".person-menu[open]")) {
    if (other !== menu) other.open = false;
  }
  const list = menu.closest(".panel-body");
  const items = menu.querySelector(".menu");
  items.classList.remove("up");
  if (list && items.getBoundingClientRect().bottom > list.getBoundingClientRect().bottom) {
    items.classList.add("up");
  }
}

export class PersonActions {
  constructor(client) {
    this.client = client;
  }

  lowerHand(id) {
    return attempt(() => this.client.lowerHand(id));
  }

  async remove(person) {
    const reason = await ask({
      heading: t("mod.remove_heading", { name: person.name }),
      inputLabel: t("mod.remove_reason"),
      confirmLabel: t("mod.remove"),
      danger: true,
    });
    if (reason !== null) await attempt(() => this.client.remove(person.id, reason));
  }

  detach(row) {
    row.querySelector(".person-menu")?.remove();
  }

  // Add (once) and bring up to date the "⋯" menu of a person's row.
  attach(row, person) {
    let menu = row.querySelector(".person-menu");
    if (!menu) {
      menu = this._build(row);
      row.append(menu);
    }
    menu.person = person; // the buttons act on the newest state
    const hand = this.client.hands.some((entry) => entry.participantId === person.id);
    const selfRole = this.client.self?.role;
    const hostOnly = person.role === "host" && selfRole !== "host";
    const buttons = menu.buttons;
    buttons.muteAudio.hidden = Boolean(person.audioMuted);
    buttons.muteVideo.hidden = Boolean(person.videoMuted);
    buttons.allowSpeak.hidden = !(person.askedToSpeak || person.audioLocked || person.videoLocked);
    buttons.lowerHand.hidden = !hand;
    buttons.remove.disabled = hostOnly;
    const select = menu.roleSelect;
    for (const option of select.options) {
      option.hidden = option.value === "host" && selfRole !== "host";
    }
    select.disabled = hostOnly;
    if (document.activeElement !== select) select.value = person.role;
  }

  _build(row) {
    const act = (run) => () => {
      const person = menu.person;
      menu.open = false;
      attempt(() => run(person));
    };
    const button = (text, onclick, className = "") =>
      h("button", { type: "button", className: `menu-item ${className}`, text, onclick });
    const buttons = {
      muteAudio: button(
        t("mod.mute_mic"),
        act((p) => this.client.mute(p.id, "audio")),
        "mute-audio",
      ),
      muteVideo: button(
        t("mod.mute_cam"),
        act((p) => this.client.mute(p.id, "video")),
        "mute-video",
      ),
      allowSpeak: button(
        t("mod.allow_speak"),
        act((p) => this.client.allowSpeak(p.id)),
        "allow-speak",
      ),
      lowerHand: button(
        t("hands.lower"),
        act((p) => this.client.lowerHand(p.id)),
        "lower-hand",
      ),
      remove: button(
        t("mod.remove"),
        () => {
          menu.open = false;
          this.remove(menu.person);
        },
        "remove danger",
      ),
    };
    const roleSelect = h(
      "select",
      {
        className: "role-select",
        onchange: () => {
          const role = roleSelect.value;
          const person = menu.person;
          if (role !== person.role) attempt(() => this.client.setRole(person.id, role));
        },
      },
      ...ASSIGNABLE_ROLES.map((role) => h("option", { value: role, text: roleLabel(role) })),
    );
    const name = row.querySelector(".person-name")?.textContent ?? "";
    const menu = h(
      "details",
      { className: "person-menu" },
      h("summary", { "aria-label": t("mod.actions_for", { name }), title: t("mod.actions") }, "⋯"),
      h(
        "div",
        { className: "menu" },
        buttons.muteAudio,
        buttons.muteVideo,
        buttons.allowSpeak,
        buttons.lowerHand,
        h("label", { className: "menu-role" }, h("span", { text: t("mod.role") }), roleSelect),
        buttons.remove,
      ),
    );
    menu.buttons = buttons;
    menu.roleSelect = roleSelect;
    menu.addEventListener("toggle", () => {
      if (menu.open) openBesideOthers(menu);
    });
    return menu;
  }
}

// The room-wide switches at the top of the participants tab (moderators only).
export class RoomControls {
  constructor(client) {
    this.client = client;
    this.element = document.getElementById("room-controls");
    this.switches = {
      locked: document.getElementById("room-locked"),
      lobby: document.getElementById("room-lobby"),
      moderatorsOnlyUnmute: document.getElementById("room-mod-unmute"),
    };
    for (const [setting, input] of Object.entries(this.switches)) {
      input.addEventListener("change", async () => {
        const wanted = input.checked;
        const done = await attempt(() => this.client.setRoom({ [setting]: wanted }));
        if (done === null) input.checked = !wanted;
      });
    }
    document
      .getElementById("mute-all-audio")
      .addEventListener("click", () => this.muteAll("audio"));
    document
      .getElementById("mute-all-video")
      .addEventListener("click", () => this.muteAll("video"));
    document.getElementById("end-meeting").addEventListener("click", () => this.endMeeting());
  }

  render() {
    this.element.hidden = !this.client.can("moderate");
    const settings = this.client.settings ?? {};
    for (const [setting, input] of Object.entries(this.switches)) {
      input.checked = Boolean(settings[setting]);
    }
  }

  async muteAll(kind) {
    const done = await attempt(() => this.client.muteAll(kind));
    if (done) notify(t("mod.muted_all", { count: done.muted.length }));
  }

  async endMeeting() {
    const confirmed = await ask({
      heading: t("mod.end_heading"),
      text: t("mod.end_text"),
      confirmLabel: t("mod.end"),
      danger: true,
    });
    if (confirmed !== null) await attempt(() => this.client.endMeeting());
  }
}
