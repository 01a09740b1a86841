// The room page: tiles for every participant, local controls. Talks to the server only
// through RoomClient (protocol.js).

import { RoomClient } from "/static/js/protocol.js";

const config = JSON.parse(document.body.dataset.config);
const messages = config.messages;
const t = (key) => messages[key] ?? key;
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
const client = new RoomClient({ room: config.room, iceServers: config.iceServers });
const tiles = new Map(); // participant id -> tile element
let localStream = null;
let audioMuted = false;
let videoMuted = false;

// Exposed for tests and for people debugging a call from the console.
window.openroom = { client, stats: () => client.stats(), tiles };

function showBanner(text, kind = "info") {
  const banner = $("banner");
  banner.textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = !text;
}

function orgLabel(org) {
  if (!org || org.kind === "guest") return t("org.guest");
  return org.name ? org.name : t(`org.${org.kind}`);
}

function initials(name) {
  return Array.from(name.trim()).slice(0, 2).join("");
}

function makeTile(participant, isSelf = false) {
  const tile = document.createElement("figure");
  tile.className = "tile";
  tile.dataset.participantId = participant.id;
  if (isSelf) tile.classList.add("self");
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound plays through the audio element, never the local echo
  const avatar = document.createElement("div");
  avatar.className = "avatar";
  const caption = document.createElement("figcaption");
  const name = document.createElement("span");
  name.className = "name";
  const org = document.createElement("span");
  org.className = "org";
  const state = document.createElement("span");
  state.className = "state";
  caption.append(name, org, state);
  tile.append(video, avatar, caption);
  $("tiles").append(tile);
  tiles.set(participant.id, tile);
  updateTile(participant, isSelf);
  updateLayout();
  return tile;
}

function updateTile(participant, isSelf = false) {
  const tile = tiles.get(participant.id);
  if (!tile) return;
  // textContent only: names come from users and never become markup
  tile.querySelector(".name").textContent = isSelf
    ? `${participant.name} (${t("room.you")})`
    : participant.name;
  tile.querySelector(".org").textContent = orgLabel(participant.org);
  tile.querySelector(".avatar").textContent = initials(participant.name);
  tile.classList.toggle("video-off", Boolean(participant.videoMuted));
  tile.classList.toggle("audio-off", Boolean(participant.audioMuted));
  tile.querySelector(".state").textContent = participant.audioMuted ? t("room.muted") : "";
}

function removeTile(id) {
  const tile = tiles.get(id);
  if (!tile) return;
  tile.querySelectorAll("video, audio").forEach((el) => {
    el.srcObject = null;
  });
  tile.remove();
  tiles.delete(id);
  updateLayout();
}

function updateLayout() {
  const count = tiles.size;
  $("tiles").dataset.count = String(Math.min(count, 9));
  $("alone").hidden = count > 1;
  const people = client.participants.size + (client.self ? 1 : 0);
  $("people-count").textContent = people ? `${t("room.participants")} ${people}` : "";
}

function makeScreenTile(info) {
  const owner = client.participants.get(info.participantId);
  const tile = makeTile({
    id: `${info.participantId}:screen`,
    name: t("room.screen_of").replace("{name}", owner?.name ?? info.participantName ?? "?"),
    org: owner?.org ?? null,
  });
  tile.classList.add("screen");
  tile.dataset.participantId = info.participantId;
  return tile;
}

function attachTrack({ track, info }) {
  if (info.source === "screen") {
    const tile = tiles.get(`${info.participantId}:screen`) ?? makeScreenTile(info);
    tile.dataset.trackId = info.id;
    const video = tile.querySelector("video");
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    return;
  }
  let tile = tiles.get(info.participantId);
  if (!tile) {
    const participant = client.participants.get(info.participantId) ?? {
      id: info.participantId,
      name: info.participantName ?? "?",
      org: null,
    };
    tile = makeTile(participant);
  }
  if (track.kind === "video") {
    const video = tile.querySelector("video");
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
  } else {
    let audio = tile.querySelector("audio");
    if (!audio) {
      audio = document.createElement("audio");
      audio.autoplay = true;
      tile.append(audio);
    }
    audio.srcObject = new MediaStream([track]);
    audio.play().catch(() => {
      $("enable-sound").hidden = false;
    });
  }
}

async function getLocalMedia() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { max: 24 } },
    });
  } catch (error) {
    console.warn("no local media", error);
    showBanner(t("room.no_camera"), "warn");
    return null;
  }
}

function setControlLabels() {
  const mic = $("toggle-mic");
  mic.textContent = audioMuted ? t("room.mic_off") : t("room.mic_on");
  mic.setAttribute("aria-pressed", String(audioMuted));
  const cam = $("toggle-cam");
  cam.textContent = videoMuted ? t("room.cam_off") : t("room.cam_on");
  cam.setAttribute("aria-pressed", String(videoMuted));
}

async function join(name) {
  $("join-button").disabled = true;
  $("join-button").textContent = t("room.joining");
  try {
    await client.connect();
    localStream = await getLocalMedia();
    const token = params.get("token") || undefined;
    const reply = await client.join({ name, token, stream: localStream });
    $("prejoin").hidden = true;
    $("stage").hidden = false;
    $("controls").hidden = false;
    const selfTile = makeTile(reply.self, true);
    if (localStream) selfTile.querySelector("video").srcObject = localStream;
    for (const participant of client.participants.values()) {
      if (!tiles.has(participant.id)) makeTile(participant);
    }
    setControlLabels();
    document.body.dataset.joined = "true";
  } catch (error) {
    console.error(error);
    showBanner(`${t("room.error")}: ${error.message}`, "error");
    $("join-button").disabled = false;
    $("join-button").textContent = t("room.join");
  }
}

client.addEventListener("participant-joined", (e) => {
  if (!tiles.has(e.detail.id)) makeTile(e.detail);
  updateLayout();
});
client.addEventListener("participant-left", (e) => {
  removeTile(e.detail.id);
  removeTile(`${e.detail.id}:screen`);
});
client.addEventListener("track-removed", (e) => {
  const screenTile = tiles.get(`${e.detail.participantId}:screen`);
  if (screenTile && screenTile.dataset.trackId === e.detail.id) removeTile(`${e.detail.participantId}:screen`);
});
client.addEventListener("speaking", (e) => {
  tiles.get(e.detail.participantId)?.classList.toggle("speaking", e.detail.speaking);
});
client.addEventListener("dominant-speaker", (e) => {
  for (const tile of tiles.values()) tile.classList.remove("dominant");
  tiles.get(e.detail.participantId)?.classList.add("dominant");
});
client.addEventListener("screen-share", (e) => {
  $("toggle-screen").textContent = e.detail.active ? t("room.stop_share") : t("room.share_screen");
  $("toggle-screen").setAttribute("aria-pressed", String(e.detail.active));
});
client.addEventListener("participant-updated", (e) => {
  const isSelf = client.self && e.detail.id === client.self.id;
  updateTile(e.detail, isSelf);
});
client.addEventListener("track", (e) => attachTrack(e.detail));
client.addEventListener("disconnected", () => showBanner(t("room.reconnecting"), "warn"));
client.addEventListener("reconnecting", () => {
  for (const id of Array.from(tiles.keys())) removeTile(id);
});
client.addEventListener("joined", (e) => {
  if (!tiles.has(e.detail.self.id) && $("stage").hidden === false) {
    const selfTile = makeTile(e.detail.self, true);
    if (localStream) selfTile.querySelector("video").srcObject = localStream;
    for (const participant of client.participants.values()) {
      if (!tiles.has(participant.id)) makeTile(participant);
    }
  }
});
client.addEventListener("reconnected", () => showBanner(""));
client.addEventListener("left", () => {
  for (const id of Array.from(tiles.keys())) removeTile(id);
  localStream?.getTracks().forEach((track) => track.stop());
  $("stage").hidden = true;
  $("controls").hidden = true;
  $("left").hidden = false;
  document.body.dataset.joined = "false";
});

$("toggle-mic").addEventListener("click", async () => {
  audioMuted = !audioMuted;
  setControlLabels();
  await client.setMuted({ audio: audioMuted });
});
$("toggle-cam").addEventListener("click", async () => {
  videoMuted = !videoMuted;
  setControlLabels();
  await client.setMuted({ video: videoMuted });
});
$("toggle-screen").addEventListener("click", async () => {
  try {
    if (client.screenTransceiver?.sender.track) await client.stopScreenShare();
    else await client.startScreenShare();
  } catch (error) {
    console.warn("screen share", error);
  }
});
if (!navigator.mediaDevices?.getDisplayMedia) $("toggle-screen").hidden = true;
$("enable-sound").addEventListener("click", () => {
  document.querySelectorAll("audio").forEach((audio) => audio.play().catch(() => {}));
  $("enable-sound").hidden = true;
});
$("leave").addEventListener("click", () => client.leave());
window.addEventListener("pagehide", () => client.leaveOnUnload());
$("copy-invite").addEventListener("click", async () => {
  const link = `${location.origin}/r/${encodeURIComponent(config.room)}`;
  try {
    await navigator.clipboard.writeText(link);
    showBanner(`${t("room.copied")}: ${link}`);
  } catch {
    showBanner(link);
  }
});
$("rejoin").href = location.pathname + location.search;
$("prejoin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  join($("prejoin-name").value.trim());
});

const presetName = params.get("name");
if (presetName) $("prejoin-name").value = presetName;
if (params.get("token") || (presetName && params.get("autojoin") === "1")) {
  join(presetName ?? "");
}
