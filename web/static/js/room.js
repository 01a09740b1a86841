// The room page: wires RoomClient (protocol.js) to the views — tiles, side panel (roster and
// chat), moderation, lobby, control bar — and switches between the page's screens (before
// joining, waiting in the lobby, in the meeting, gone).

import { ChatPanel } from "/static/js/chat.js";
import { h } from "/static/js/dom.js";
import { MediaControls } from "/static/js/controls.js";
import { config, t } from "/static/js/i18n.js";
import { LobbyCard } from "/static/js/lobby.js";
import { PersonActions, RoomControls } from "/static/js/moderation.js";
import { notify } from "/static/js/notices.js";
import { SidePanel } from "/static/js/panel.js";
import { RoomClient } from "/static/js/protocol.js";
import { Roster } from "/static/js/roster.js";
import { TileGrid } from "/static/js/tiles.js";
import { BoardClient } from "/static/js/board/index.js";
import { WallControls } from "/static/js/wall-controls.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const client = new RoomClient({ room: config.room, iceServers: config.iceServers });
const grid = new TileGrid($("tiles"), { onLayout: () => updateCounts() });
const panel = new SidePanel();
const roster = new Roster(client, new PersonActions(client));
const roomControls = new RoomControls(client);
const lobby = new LobbyCard(client);
const chat = new ChatPanel(client, () => panel.isShowing("chat") && !document.hidden);
const controls = new MediaControls(client);
let localStream = null;

// Exposed for tests and for people debugging a call from the console.
window.openroom = { client, stats: () => client.stats(), tiles: grid.tiles, panel };

// -- screens ---------------------------------------------------------------------------------

const SCREENS = ["prejoin", "waiting", "meeting", "left"];

function showScreen(name) {
  for (const screen of SCREENS) $(screen).hidden = screen !== name;
  $("controls").hidden = name !== "meeting";
  document.body.dataset.screen = name;
  document.body.dataset.joined = String(name === "meeting");
}

function showBanner(text, kind = "info") {
  const banner = $("banner");
  banner.textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = !text;
}

// Gone from the meeting for good, with why.
function showGone(message) {
  grid.clear();
  roster.clear();
  localStream?.getTracks().forEach((track) => track.stop());
  $("reconnecting").hidden = true;
  $("left-message").textContent = message;
  showScreen("left");
}

function showWaiting(status, text) {
  const card = document.querySelector(".waiting-card");
  card.dataset.status = status;
  $("waiting-title").textContent = t(`lobby.${status}_title`);
  $("waiting-text").textContent = text;
  $("waiting-leave").textContent = status === "waiting" ? t("room.leave") : t("room.rejoin");
  showScreen("waiting");
}

// -- the meeting's views -------------------------------------------------------------------

function handOrder() {
  return new Map(client.hands.map((hand, index) => [hand.participantId, index + 1]));
}

function updateCounts() {
  const people = roster.people().length;
  $("people-count").textContent = people ? `${t("room.participants")} ${people}` : "";
  $("people-tab-count").textContent = people ? String(people) : "";
  $("tiles").dataset.count = String(Math.min(grid.size, 9));
  $("alone").hidden = grid.size > 1;
}

function renderRoomFlags() {
  const flags = [];
  if (client.settings.locked) flags.push(t("room.flag_locked"));
  if (client.settings.lobby) flags.push(t("room.flag_lobby"));
  $("room-flags").replaceChildren(
    ...flags.map((text) =>
      Object.assign(document.createElement("span"), { className: "flag", textContent: text }),
    ),
  );
}

// Everything that depends on who is here, their state and the hands.
function renderPeople() {
  const order = handOrder();
  for (const person of roster.people()) grid.update(person, order.get(person.id) ?? 0);
  roster.render();
  chat.updateRecipients();
  controls.render();
  updateCounts();
}

function renderAll() {
  renderPeople();
  roomControls.render();
  lobby.render();
  renderRoomFlags();
}

// A join snapshot (first join, admitted from the lobby, or resumed): rebuild every view.
function enterMeeting() {
  grid.clear();
  roster.clear();
  showScreen("meeting");
  showBanner("");
  $("reconnecting").hidden = true;
  grid.add(client.self, { isSelf: true });
  grid.showLocal(localStream);
  for (const participant of client.participants.values()) grid.add(participant);
  chat.showHistory(client.chatHistory);
  renderAll();
}

// -- client events ---------------------------------------------------------------------------

const on = (type, handler) => client.addEventListener(type, (event) => handler(event.detail));

// -- the shared board --------------------------------------------------------------------------

const board = new BoardClient(client);
board.mount($("board-area"), $("board-toolbar"));
window.openroom.board = board;
const showBoardPush = () =>
  document.body.toggleAttribute("data-board-push", client.permissions.has("board_push"));
on("joined", (snapshot) => {
  showBoardPush();
  board.attach(snapshot);
});
on("permissions-changed", showBoardPush);
const wallControls = new WallControls(client, board);
window.openroom.wallControls = wallControls;

// Until someone picks a view, the stage shows video alone while the board is empty and
// video beside the board once it has panels.
let chosenView = null;
board.state.addEventListener("change", () => {
  if (!chosenView) setView(board.state.panels.size ? "split" : "video");
});

// A participant's video pinned onto the board (a `video` panel), from their tile.
grid.decorate = (tile, participant) => {
  tile.append(
    h("button", {
      type: "button",
      className: "pin-to-board",
      text: t("board.pin"),
      title: t("board.pin"),
      onclick: () =>
        board
          .operate("push", {
            panel: {
              kind: "video",
              title: participant.name,
              data: { participantId: participant.id },
            },
          })
          .catch((error) => notify(error.message, { kind: "error" })),
    }),
  );
};

function setView(view) {
  $("stage").dataset.view = view;
  for (const button of document.querySelectorAll(".view-switch button")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  }
  window.dispatchEvent(new Event("resize")); // charts follow their new size
}
for (const button of document.querySelectorAll(".view-switch button")) {
  button.addEventListener("click", () => {
    chosenView = button.dataset.view;
    setView(chosenView);
  });
}

on("joined", enterMeeting);
on("waiting", (reply) => {
  $("waiting-name").textContent = reply.self.name;
  showWaiting("waiting", t("lobby.waiting_text"));
});
on("denied", ({ reason }) => {
  localStream?.getTracks().forEach((track) => track.stop());
  showWaiting("denied", reason ? t("lobby.denied_reason", { reason }) : t("lobby.denied_text"));
});
on("removed", ({ reason }) =>
  showGone(reason ? t("room.removed_reason", { reason }) : t("room.removed")),
);
on("meeting-ended", () => showGone(t("room.meeting_ended")));
on("disconnected", () => showGone(t("room.replaced")));
on("join-failed", ({ error }) => showGone(`${t("room.error")}: ${error.message}`));
on("left", () => showGone(t("room.left")));

on("participant-joined", (participant) => {
  grid.add(participant);
  renderPeople();
});
on("participant-left", ({ id }) => {
  grid.remove(id);
  grid.removeScreenOf(id);
  renderPeople();
});
on("participant-updated", renderPeople);
on("hands", renderPeople);
on("permissions-changed", ({ role }) => {
  renderAll();
  notify(t("room.role_changed", { role: t(`role.${role}`) }));
});
on("room-updated", () => {
  roomControls.render();
  renderRoomFlags();
});
on("lobby-updated", () => lobby.render());
on("chat", (message) => chat.add(message));

on("muted-by-moderator", ({ kind, by, locked }) => {
  const what = kind === "audio" ? t("room.your_mic") : t("room.your_cam");
  const text = t("room.muted_by", { name: by, what });
  notify(locked ? `${text} ${t("room.ask_to_unmute")}` : text, { kind: "warn", seconds: 10 });
  controls.render();
});
on("speak-allowed", () => notify(t("room.speak_allowed"), { seconds: 10 }));
on("speak-request", ({ participantId, name }) => {
  notify(t("mod.speak_request", { name }), {
    seconds: 15,
    action: {
      label: t("mod.allow_speak"),
      run: () =>
        client.allowSpeak(participantId).catch((error) => notify(error.message, { kind: "error" })),
    },
  });
});

on("speaking", ({ participantId, speaking }) => {
  grid.setSpeaking(participantId, speaking);
  roster.setSpeaking(participantId, speaking);
});
on("dominant-speaker", ({ participantId }) => grid.setDominant(participantId));
on("track-removed", ({ id, participantId }) => grid.removeScreenOf(participantId, id));
on("track", (detail) => {
  const owner = client.participants.get(detail.info.participantId);
  grid.attach(detail, owner, { onAudioBlocked: () => ($("enable-sound").hidden = false) });
});
on("screen-share", ({ active }) => {
  $("toggle-screen").textContent = active ? t("room.stop_share") : t("room.share_screen");
  $("toggle-screen").setAttribute("aria-pressed", String(active));
});
on("reconnecting", () => ($("reconnecting").hidden = false));
on("reconnected", () => ($("reconnecting").hidden = true));
on("error", ({ error }) => notify(`${t("room.error")}: ${error.message}`, { kind: "error" }));

// -- side panel --------------------------------------------------------------------------------

chat.addEventListener("unread", ({ detail: { count } }) => {
  for (const badge of [$("chat-unread"), $("chat-unread-bar")]) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
  }
});
panel.addEventListener("shown", ({ detail: { tab } }) => {
  if (tab === "chat") chat.markRead();
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && panel.isShowing("chat")) chat.markRead();
});
$("open-people").addEventListener("click", () => panel.toggle("people"));
$("open-chat").addEventListener("click", () => panel.toggle("chat"));

// -- joining and the control bar ----------------------------------------------------------------

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

async function join(name) {
  $("join-button").disabled = true;
  $("join-button").textContent = t("room.joining");
  try {
    await client.connect();
    localStream = await getLocalMedia();
    const token = params.get("token") || undefined;
    await client.join({ name, token, stream: localStream }); // then "joined" or "waiting"
  } catch (error) {
    console.error(error);
    showBanner(`${t("room.error")}: ${error.message}`, "error");
    $("join-button").disabled = false;
    $("join-button").textContent = t("room.join");
  }
}

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
$("waiting-leave").addEventListener("click", () => {
  if (document.querySelector(".waiting-card").dataset.status === "waiting") client.leave();
  else location.reload();
});
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
