// The video tiles: one per participant (and one per shared screen), with name, organisation,
// mute, hand and reconnecting flags. Knows nothing of the protocol beyond the shapes of
// Participant and Track.

import { h } from "/static/js/dom.js";
import { icon } from "/static/js/icons.js";
import { orgLabel, t } from "/static/js/i18n.js";

function initials(name) {
  return Array.from(name.trim()).slice(0, 2).join("");
}

export class TileGrid {
  constructor(container, { onLayout = () => {} } = {}) {
    this.container = container;
    this.onLayout = onLayout;
    this.tiles = new Map(); // participant id (or "<id>:screen") -> tile element
    this.selfId = null;
  }

  get size() {
    return this.tiles.size;
  }

  has(id) {
    return this.tiles.has(id);
  }

  add(participant, { isSelf = false } = {}) {
    if (this.tiles.has(participant.id)) return this.tiles.get(participant.id);
    const tile = h(
      "figure",
      { className: isSelf ? "tile self" : "tile", dataset: { participantId: participant.id } },
      h("video", { autoplay: true, playsInline: true, muted: true }), // sound: <audio> only
      h("div", { className: "avatar" }),
      h(
        "figcaption",
        {},
        h("span", { className: "hand-flag", hidden: true }, icon("hand")),
        h("span", { className: "name" }),
        h("span", { className: "org" }),
        h("span", { className: "state" }),
      ),
    );
    if (isSelf) this.selfId = participant.id;
    this.decorate?.(tile, participant, { isSelf });
    this.container.append(tile);
    this.tiles.set(participant.id, tile);
    this.update(participant);
    this.onLayout();
    return tile;
  }

  update(participant, handOrder = 0) {
    const tile = this.tiles.get(participant.id);
    if (!tile) return;
    const isSelf = participant.id === this.selfId;
    // textContent only: names come from users and never become markup
    tile.querySelector(".name").textContent = isSelf
      ? `${participant.name} (${t("room.you")})`
      : participant.name;
    tile.querySelector(".org").textContent = orgLabel(participant.org);
    tile.querySelector(".avatar").textContent = initials(participant.name ?? "");
    tile.classList.toggle("video-off", Boolean(participant.videoMuted));
    tile.classList.toggle("audio-off", Boolean(participant.audioMuted));
    tile.classList.toggle("reconnecting", Boolean(participant.reconnecting));
    tile.dataset.audioMuted = String(Boolean(participant.audioMuted));
    tile.dataset.videoMuted = String(Boolean(participant.videoMuted));
    let state = "";
    if (participant.reconnecting) state = t("roster.reconnecting");
    else if (participant.audioMuted) state = t("room.muted");
    tile.querySelector(".state").textContent = state;
    tile.querySelector(".hand-flag").hidden = !handOrder;
  }

  remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.querySelectorAll("video, audio").forEach((media) => {
      media.srcObject = null;
    });
    tile.remove();
    this.tiles.delete(id);
    this.onLayout();
  }

  clear() {
    for (const id of Array.from(this.tiles.keys())) this.remove(id);
    this.selfId = null;
  }

  removeScreenOf(participantId, trackId = null) {
    const id = `${participantId}:screen`;
    const tile = this.tiles.get(id);
    if (tile && (trackId === null || tile.dataset.trackId === trackId)) this.remove(id);
  }

  setSpeaking(participantId, speaking) {
    this.tiles.get(participantId)?.classList.toggle("speaking", speaking);
  }

  setDominant(participantId) {
    for (const tile of this.tiles.values()) tile.classList.remove("dominant");
    this.tiles.get(participantId)?.classList.add("dominant");
  }

  showLocal(stream) {
    const tile = this.tiles.get(this.selfId);
    if (tile && stream) tile.querySelector("video").srcObject = stream;
  }

  // A received track: into its owner's tile (made if needed) or its own screen tile.
  attach({ track, info }, owner, { onAudioBlocked = () => {} } = {}) {
    if (info.source === "screen") {
      const id = `${info.participantId}:screen`;
      let tile = this.tiles.get(id);
      if (!tile) {
        const name = owner?.name ?? info.participantName ?? "?";
        tile = this.add({ id, name: t("room.screen_of", { name }), org: owner?.org ?? null });
        tile.classList.add("screen");
        tile.dataset.participantId = info.participantId;
      }
      tile.dataset.trackId = info.id;
      play(tile.querySelector("video"), track);
      return;
    }
    const tile =
      this.tiles.get(info.participantId) ??
      this.add(owner ?? { id: info.participantId, name: info.participantName ?? "?", org: null });
    if (track.kind === "video") {
      play(tile.querySelector("video"), track);
      return;
    }
    let audio = tile.querySelector("audio");
    if (!audio) {
      audio = h("audio", { autoplay: true });
      tile.append(audio);
    }
    play(audio, track, onAudioBlocked);
  }
}

function play(media, track, onBlocked = () => {}) {
  media.srcObject = new MediaStream([track]);
  media.play().catch(onBlocked);
}
