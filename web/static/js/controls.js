// The control bar's own-media buttons: microphone (or "ask to speak" while a moderator keeps
// us muted), camera and the raised hand. Their state always follows client.self, which the
// server may change (a moderator's mute), never a local guess.

import { h } from "/static/js/dom.js";
import { icon } from "/static/js/icons.js";
import { t } from "/static/js/i18n.js";
import { notify } from "/static/js/notices.js";

function label(button, iconName, text, pressed) {
  button.replaceChildren(icon(iconName), h("span", { text }));
  button.setAttribute("aria-pressed", String(pressed));
}

export class MediaControls {
  constructor(client) {
    this.client = client;
    this.mic = document.getElementById("toggle-mic");
    this.cam = document.getElementById("toggle-cam");
    this.hand = document.getElementById("toggle-hand");
    this.mic.addEventListener("click", () => this._micClicked());
    this.cam.addEventListener("click", () => this._camClicked());
    this.hand.addEventListener("click", () => this._handClicked());
  }

  render() {
    const self = this.client.self;
    if (!self) return;
    const publishes = this.client.can("publish");
    this.mic.hidden = !publishes;
    this.cam.hidden = !publishes;
    this.hand.hidden = !this.client.can("chat");
    const mustAsk = self.audioMuted && self.audioLocked;
    this.mic.dataset.mode = mustAsk ? (self.askedToSpeak ? "asked" : "ask") : "toggle";
    this.mic.disabled = mustAsk && self.askedToSpeak;
    if (mustAsk) {
      label(
        this.mic,
        "hand",
        self.askedToSpeak ? t("room.asked_to_speak") : t("room.ask_to_speak"),
        false,
      );
    } else {
      label(
        this.mic,
        self.audioMuted ? "mic-off" : "mic",
        self.audioMuted ? t("room.mic_off") : t("room.mic_on"),
        self.audioMuted,
      );
    }
    this.cam.disabled = Boolean(self.videoMuted && self.videoLocked);
    label(
      this.cam,
      self.videoMuted ? "cam-off" : "cam",
      self.videoMuted ? t("room.cam_off") : t("room.cam_on"),
      self.videoMuted,
    );
    const raised = this.handRaised();
    label(this.hand, "hand", raised ? t("hands.lower_mine") : t("hands.raise"), raised);
  }

  handRaised() {
    const id = this.client.self?.id;
    return this.client.hands.some((hand) => hand.participantId === id);
  }

  async _run(action) {
    try {
      await action();
    } catch (error) {
      const text = error.code === "unmute_forbidden" ? t("room.unmute_forbidden") : error.message;
      notify(text, { kind: "warn" });
    }
    this.render();
  }

  _micClicked() {
    const self = this.client.self;
    if (this.mic.dataset.mode === "ask") {
      return this._run(async () => {
        await this.client.askToSpeak();
        notify(t("room.speak_requested"));
      });
    }
    return this._run(() => this.client.setMuted({ audio: !self.audioMuted }));
  }

  _camClicked() {
    const self = this.client.self;
    return this._run(() => this.client.setMuted({ video: !self.videoMuted }));
  }

  _handClicked() {
    return this._run(() => (this.handRaised() ? this.client.lowerHand() : this.client.raiseHand()));
  }
}
