// The mayor's wall: a room display in kiosk style. Unpaired, it shows a pairing code; paired,
// it joins its room with the display token it keeps (localStorage) and shows the meeting in the
// layout the room's hosts choose (grid, speaker, board, split, spotlight). It never goes dark:
// signaling and media reconnect with backoff, a restarted server is rejoined with the token,
// a frozen video shows its owner's name and avatar, and outside operating hours or with nobody
// in the room it shows a calm idle screen.

import { BoardClient } from "/static/js/board/index.js";
import { renderKpi } from "/static/js/board/panels/kpi.js";
import { BoardView } from "/static/js/board/view.js";
import { h } from "/static/js/dom.js";
import { config, orgLabel, t } from "/static/js/i18n.js";
import { icon } from "/static/js/icons.js";
import { ResumeStore, RoomClient } from "/static/js/protocol.js";

const $ = (id) => document.getElementById(id);
const PAIRING_KEY = "openroom.wall";
const LAST_N = 12; // cameras the server forwards (the most recent speakers first)
const GRID_MAX = 12; // tiles in the grid; more people: the most recent speakers
const STRIP_MAX = 6; // tiles in the strip under the speaker or the board
const FROZEN_AFTER_MS = 3000; // no new decoded frame for this long: show the avatar
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 8000;
const MEDIA_GRACE_MS = 10000; // a subscribe connection failed this long: join again
// a join refused with one of these: the token is no good any more, pair again
const FORGET_CODES = new Set(["wall_unpaired", "invalid_token", "token_expired", "wrong_room"]);
const sound = new URLSearchParams(location.search).get("sound") === "1";

// -- what the wall keeps across reloads and power cuts ------------------------------------

function loadPairing() {
  try {
    const saved = JSON.parse(localStorage.getItem(PAIRING_KEY) ?? "null");
    return saved?.room && saved?.token ? saved : null;
  } catch {
    return null;
  }
}

function savePairing(pairing) {
  try {
    localStorage.setItem(PAIRING_KEY, JSON.stringify(pairing));
  } catch (error) {
    console.warn("cannot keep the pairing", error);
  }
}

function forgetPairing() {
  try {
    localStorage.removeItem(PAIRING_KEY);
  } catch {
    // nothing kept
  }
}

// -- operating hours -------------------------------------------------------------------------

function minutes(text) {
  const [hours, mins] = text.split(":").map(Number);
  return hours * 60 + mins;
}

export function withinHours(range, date = new Date()) {
  if (!range) return true;
  const [start, end] = range.split("-").map(minutes);
  const now = date.getHours() * 60 + date.getMinutes();
  return start < end ? now >= start && now < end : now >= start || now < end;
}

const clockFormat = new Intl.DateTimeFormat(config.lang, {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});
const dateFormat = new Intl.DateTimeFormat(config.lang, {
  year: "numeric",
  month: "long",
  day: "numeric",
  weekday: "long",
});

function initials(name) {
  return Array.from((name ?? "").trim()).slice(0, 2).join("");
}

// -- tiles -----------------------------------------------------------------------------------

class WallTile {
  constructor(id, { screen = false } = {}) {
    this.id = id;
    this.screen = screen;
    this.trackId = null; // the video track shown
    this.video = h("video", { autoplay: true, playsInline: true, muted: true });
    this.element = h(
      "figure",
      { className: screen ? "wall-tile screen no-video" : "wall-tile no-video" },
      this.video,
      h(
        "div",
        { className: "wall-avatar" },
        h("span", { className: "avatar-circle" }),
        h("span", { className: "avatar-name" }),
      ),
      h(
        "figcaption",
        {},
        h("span", { className: "hand", hidden: true }, icon("hand"), h("b")),
        h("span", { className: "name" }),
        h("span", { className: "org" }),
      ),
    );
    this.element.dataset.participantId = id;
  }

  update(person, handOrder = 0) {
    const name = this.screen ? t("room.screen_of", { name: person.name }) : person.name;
    this.element.querySelector(".name").textContent = name;
    this.element.querySelector(".org").textContent = orgLabel(person.org);
    this.element.querySelector(".avatar-circle").textContent = initials(person.name);
    this.element.querySelector(".avatar-name").textContent = name;
    const hand = this.element.querySelector(".hand");
    hand.hidden = this.screen || !handOrder;
    hand.querySelector("b").textContent = handOrder ? String(handOrder) : "";
    this.videoMuted = !this.screen && Boolean(person.videoMuted);
    this.element.classList.toggle("reconnecting", Boolean(person.reconnecting));
  }

  show(track, trackId) {
    this.trackId = trackId;
    this.video.srcObject = new MediaStream([track]);
    this.video.play().catch(() => {});
  }

  // Video only while decoded frames keep coming; otherwise the name and the avatar.
  setFlowing(flowing) {
    const showVideo = flowing && !this.videoMuted;
    this.element.classList.toggle("no-video", !showVideo);
    this.element.dataset.video = showVideo ? "flowing" : "off";
  }
}

// -- the application -----------------------------------------------------------------------

class WallApp {
  constructor() {
    this.client = null;
    this.pairing = loadPairing();
    this.state = "starting";
    this.layout = { layout: "grid", spotlight: null };
    this.tiles = new Map(); // participant id, or "<id>:screen" -> WallTile
    this.frames = new Map(); // track id -> {count, changedAt}
    this.speakerOrder = []; // most recent dominant speaker first
    this.dominant = null;
    this.backoff = BACKOFF_FIRST_MS;
    this.retryTimer = null;
    this.codeTimer = null;
    this.mediaTroubleSince = 0;
    this.board = new BoardClient(null);
    this.boardView = new BoardView($("wall-board"), this.board.state, {
      actions: { focus() {}, remove() {}, page() {}, pointer() {} },
      can: () => false,
    });
    this.board.state.addEventListener("change", () => {
      this.applySpotlightPanel();
      if (this.state === "idle") this.renderIdle();
    });
    setInterval(() => this.tick(), 1000);
    setInterval(() => this.checkMedia().catch(() => {}), 1000);
    this.tick();
  }

  start() {
    if (this.pairing) this.runMeeting();
    else this.runPairing();
  }

  setState(state) {
    this.state = state;
    document.body.dataset.state = state;
    $("pairing").hidden = state !== "pairing";
    $("live").hidden = state !== "live";
    $("idle").hidden = !["idle", "connecting", "starting"].includes(state);
    if (state !== "live") this.renderIdle();
  }

  status(text) {
    $("wall-status").textContent = text;
    $("wall-status").hidden = !text;
  }

  // A new RoomClient (a new socket); the old one, if any, is closed for good.
  newClient(room) {
    this.dispose();
    const client = new RoomClient({
      room,
      iceServers: config.iceServers,
      resumeStore: new ResumeStore(globalThis.sessionStorage, "openroom.wall.resume"),
      joinOptions: { lastN: LAST_N },
      reconnectionDelayMax: 2000,
    });
    this.client = client;
    this.board.client = client;
    const on = (type, handler) =>
      client.addEventListener(type, (event) => {
        if (client === this.client) handler(event.detail);
      });
    on("joined", (snapshot) => this.onJoined(snapshot));
    on("reconnecting", () => this.status(t("wall.reconnecting")));
    on("reconnected", () => this.status(""));
    for (const type of ["participant-joined", "participant-updated", "hands", "room-updated"]) {
      on(type, () => this.render());
    }
    on("participant-left", ({ id }) => {
      this.dropTile(id);
      this.dropTile(`${id}:screen`);
      this.render();
    });
    on("speaking", ({ participantId, speaking }) => {
      this.tiles.get(participantId)?.element.classList.toggle("speaking", speaking);
    });
    on("dominant-speaker", ({ participantId }) => {
      this.dominant = participantId;
      this.speakerOrder = [participantId, ...this.speakerOrder.filter((id) => id !== participantId)];
      this.render();
    });
    on("track", (detail) => this.onTrack(detail));
    on("track-removed", ({ id, participantId }) => {
      const screen = this.tiles.get(`${participantId}:screen`);
      if (screen?.trackId === id) this.dropTile(screen.id);
      this.render();
    });
    on("wall-layout", (layout) => {
      this.layout = layout;
      this.render();
    });
    on("wall-unpaired", () => this.unpaired());
    for (const type of ["join-failed", "disconnected", "removed", "meeting-ended"]) {
      on(type, (detail) => this.ended(type, detail));
    }
    return client;
  }

  dispose() {
    const old = this.client;
    this.client = null;
    if (!old) return;
    old.state = "ended";
    old._closePeers();
    old.socket?.disconnect();
  }

  retry(run) {
    clearTimeout(this.retryTimer);
    const delay = this.backoff * (0.8 + Math.random() * 0.4);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(run, delay);
  }

  // -- pairing ---------------------------------------------------------------------------

  async runPairing() {
    clearTimeout(this.retryTimer);
    this.setState("pairing");
    this.clearTiles();
    $("pair-code").textContent = "";
    $("pair-expiry").textContent = t("wall.connecting");
    const client = this.newClient(null);
    try {
      await client.connect();
    } catch (error) {
      console.warn("wall: no server", error);
      if (client === this.client) this.retry(() => this.runPairing());
      return;
    }
    client.socket.on("wall-paired", (paired) => {
      if (client !== this.client) return;
      this.pairing = paired;
      savePairing(paired);
      this.backoff = BACKOFF_FIRST_MS;
      this.runMeeting();
    });
    // a server that restarted forgot our code (and this connection): ask again
    client.socket.io.on("reconnect", () => client === this.client && this.requestCode());
    this.backoff = BACKOFF_FIRST_MS;
    await this.requestCode();
  }

  async requestCode() {
    clearTimeout(this.codeTimer);
    const client = this.client;
    try {
      const { code, ttlSeconds } = await client.wallHello();
      if (client !== this.client) return;
      $("pair-code").textContent = code;
      $("pair-code").dataset.code = code;
      const until = new Date(Date.now() + ttlSeconds * 1000);
      $("pair-expiry").textContent = t("wall.code_expires", { time: clockFormat.format(until) });
      this.codeTimer = setTimeout(() => this.requestCode(), Math.max(1000, ttlSeconds * 1000 - 1000));
    } catch (error) {
      if (client !== this.client) return;
      console.warn("wall: no pairing code", error);
      this.codeTimer = setTimeout(() => this.requestCode(), error.code === "rate_limited" ? 30000 : 3000);
    }
  }

  unpaired() {
    forgetPairing();
    this.pairing = null;
    this.status("");
    this.runPairing().then(() => ($("pair-message").textContent = t("wall.unpaired")));
  }

  // -- the meeting -------------------------------------------------------------------------

  async runMeeting() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.codeTimer);
    $("pair-message").textContent = "";
    if (this.state !== "live") this.setState("connecting");
    const client = this.newClient(this.pairing.room);
    try {
      await client.connect();
      await client.join({ token: this.pairing.token });
    } catch (error) {
      if (client === this.client) this.ended("join-failed", { error });
    }
  }

  ended(type, detail = {}) {
    const code = detail.error?.code;
    if (FORGET_CODES.has(code) || (type === "removed" && detail.reason === "unpaired")) {
      this.unpaired();
      return;
    }
    console.warn("wall: out of the meeting", type, detail);
    this.status(t("wall.reconnecting"));
    this.retry(() => this.runMeeting());
  }

  onJoined(snapshot) {
    this.backoff = BACKOFF_FIRST_MS;
    this.status("");
    this.layout = snapshot.wallLayout ?? this.layout;
    this.board.attach(snapshot); // a fresh board snapshot
    this.clearTiles();
    this.frames.clear();
    this.render();
  }

  onTrack({ track, info }) {
    if (track.kind === "audio") {
      if (!sound) return;
      const audio = h("audio", { autoplay: true });
      audio.srcObject = new MediaStream([track]);
      document.body.append(audio);
      track.addEventListener("ended", () => audio.remove());
      return;
    }
    const owner = this.client.participants.get(info.participantId);
    if (!owner) return;
    const id = info.source === "screen" ? `${info.participantId}:screen` : info.participantId;
    const tile = this.tile(id, owner, info.source === "screen");
    tile.show(track, info.id);
    this.render();
  }

  tile(id, person, screen = false) {
    let tile = this.tiles.get(id);
    if (!tile) {
      tile = new WallTile(id, { screen });
      tile.update(person);
      this.tiles.set(id, tile);
    }
    return tile;
  }

  dropTile(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.video.srcObject = null;
    tile.element.remove();
    this.tiles.delete(id);
  }

  clearTiles() {
    for (const id of [...this.tiles.keys()]) this.dropTile(id);
  }

  people() {
    return [...(this.client?.participants.values() ?? [])].filter((p) => p.role !== "display");
  }

  // The people in the order the wall shows them: the most recent speakers, then by arrival.
  ranked() {
    const people = this.people().sort((a, b) => a.joinedAt - b.joinedAt);
    const rank = (p) => {
      const index = this.speakerOrder.indexOf(p.id);
      return index === -1 ? Infinity : index;
    };
    return people.sort((a, b) => rank(a) - rank(b));
  }

  // The tile that gets the large place: a shared screen, else the active speaker.
  mainTile(people) {
    const screens = people.map((p) => this.tiles.get(`${p.id}:screen`)).filter(Boolean);
    if (screens.length) return screens[0];
    const speaker = people.find((p) => p.id === this.dominant) ?? people[0];
    return speaker ? this.tiles.get(speaker.id) : null;
  }

  idleReason() {
    if (!withinHours(config.operatingHours)) return "closed";
    if (this.client?.joined && this.people().length === 0) return "empty";
    return null;
  }

  render() {
    if (!this.client?.joined) return;
    const reason = this.idleReason();
    if (reason) {
      if (this.state !== "idle") this.setState("idle");
      this.renderIdle();
      return;
    }
    if (this.state !== "live") this.setState("live");
    const people = this.ranked();
    const hands = new Map(this.client.hands.map((hand, i) => [hand.participantId, i + 1]));
    for (const person of people) {
      this.tile(person.id, person).update(person, hands.get(person.id) ?? 0);
      this.tiles.get(`${person.id}:screen`)?.update(person);
    }
    for (const tile of this.tiles.values()) {
      tile.element.classList.toggle("dominant", tile.id === this.dominant);
    }
    const { layout, spotlight } = this.layout;
    const live = $("live");
    live.dataset.layout = layout;
    live.dataset.spotlight = spotlight?.panelId ? "panel" : spotlight?.participantId ? "person" : "";
    const grid = $("wall-grid");
    const focus = $("wall-focus");
    const strip = $("wall-strip");
    const placed = { grid: [], focus: [], strip: [] };
    const main = this.mainTile(people);
    const personTiles = people.map((p) => this.tiles.get(p.id));
    const screenTiles = people.map((p) => this.tiles.get(`${p.id}:screen`)).filter(Boolean);
    if (layout === "grid") {
      placed.grid = [...screenTiles, ...personTiles].slice(0, GRID_MAX);
    } else if (layout === "speaker") {
      placed.focus = main ? [main] : [];
      placed.strip = [...screenTiles, ...personTiles].filter((x) => x !== main).slice(0, STRIP_MAX);
    } else if (layout === "board") {
      placed.strip = [...screenTiles, ...personTiles].slice(0, STRIP_MAX + 2);
    } else if (layout === "split") {
      placed.focus = main ? [main] : [];
    } else if (layout === "spotlight" && !spotlight?.panelId) {
      const chosen = (spotlight?.participantId && this.tiles.get(spotlight.participantId)) || main;
      placed.focus = chosen ? [chosen] : [];
    }
    const shown = new Set([...placed.grid, ...placed.focus, ...placed.strip]);
    const hidden = people.length + screenTiles.length - shown.size;
    grid.dataset.count = String(Math.max(1, placed.grid.length));
    grid.classList.toggle("with-screen", placed.grid.some((tile) => tile.screen));
    this.place(grid, placed.grid, layout === "grid" ? hidden : 0);
    this.place(focus, placed.focus, 0);
    this.place(strip, placed.strip, layout === "speaker" || layout === "board" ? hidden : 0);
    for (const tile of this.tiles.values()) {
      if (!shown.has(tile)) tile.element.remove();
    }
    this.renderHands(people, hands);
    $("wall-room").textContent = this.client.settings?.title || this.client.room;
    $("wall-layout-name").textContent = t(`wall.layout.${layout}`);
    this.applySpotlightPanel();
    if (this.shownLayout !== this.layout) {
      this.shownLayout = this.layout; // what the wall shows, and since when (for tests)
      this.shownAt = Date.now();
      window.dispatchEvent(new Event("resize")); // charts follow their new size
    }
  }

  place(container, tiles, more) {
    const elements = tiles.map((tile) => tile.element);
    if (more > 0) {
      elements.push(h("div", { className: "wall-more", text: t("wall.more", { count: more }) }));
    }
    const same =
      container.children.length === elements.length &&
      elements.every((element, i) => container.children[i] === element);
    if (same) return;
    container.replaceChildren(...elements);
    for (const tile of tiles) tile.video.play().catch(() => {});
  }

  renderHands(people, hands) {
    const raised = people
      .filter((p) => hands.has(p.id))
      .sort((a, b) => hands.get(a.id) - hands.get(b.id));
    $("wall-hands").hidden = raised.length === 0;
    $("wall-hands").replaceChildren(
      icon("hand"),
      h("span", { className: "hands-label", text: t("wall.hands") }),
      ...raised.map((p) => h("span", { className: "hands-name", text: `${hands.get(p.id)}. ${p.name}` })),
    );
  }

  // Spotlight on a panel: the board shows that panel alone, full size.
  applySpotlightPanel() {
    const spot = this.layout.layout === "spotlight" ? this.layout.spotlight?.panelId : null;
    const container = $("wall-board");
    container.classList.toggle("spot-panel", Boolean(spot));
    for (const frame of container.querySelectorAll(".panel-frame")) {
      if (spot) frame.hidden = frame.dataset.panelId !== spot;
      else frame.hidden = Boolean(this.board.state.focus) && this.board.state.focus !== frame.dataset.panelId;
      frame.classList.toggle("spot", frame.dataset.panelId === spot);
    }
  }

  // -- idle --------------------------------------------------------------------------------

  renderIdle() {
    const reason = this.idleReason();
    const room = this.client?.settings?.title || this.pairing?.room || "";
    $("idle-room").textContent = room;
    let text = "";
    if (this.state === "connecting" || this.state === "starting") text = t("wall.connecting");
    else if (reason === "closed") text = t("wall.idle_closed", { hours: config.operatingHours });
    else text = t("wall.idle_no_meeting");
    $("idle-status").textContent = text;
    $("idle-hint").hidden = reason !== "empty";
    $("idle").dataset.reason = reason ?? this.state;
    const headlines = [...this.board.state.panels.values()].filter((p) => p.kind === "kpi").slice(0, 3);
    $("idle-headlines").replaceChildren(
      ...headlines.map((panel) => {
        const body = h("div", { className: "panel-body" });
        renderKpi(body, panel);
        return h("section", { className: "idle-panel" }, h("h2", { text: panel.title }), body);
      }),
    );
  }

  tick() {
    const now = new Date();
    $("idle-clock").textContent = clockFormat.format(now);
    $("idle-date").textContent = dateFormat.format(now);
    $("wall-clock").textContent = clockFormat.format(now);
    // operating hours begin or end while nothing else happens
    if (this.client?.joined) {
      const idle = Boolean(this.idleReason());
      if (idle !== (this.state === "idle")) this.render();
    }
  }

  // -- media: frozen video and a failed connection -------------------------------------------

  async checkMedia() {
    const client = this.client;
    if (!client?.joined) return;
    const now = Date.now();
    const pc = client.subscriber;
    const expected = this.people().some((p) => p.tracks?.some((track) => track.kind === "video"));
    if (expected && (!pc || pc.connectionState === "failed" || pc.connectionState === "closed")) {
      this.mediaTroubleSince ||= now;
      if (now - this.mediaTroubleSince > MEDIA_GRACE_MS) {
        console.warn("wall: media lost, joining again");
        this.mediaTroubleSince = 0;
        this.status(t("wall.reconnecting"));
        this.runMeeting();
        return;
      }
    } else this.mediaTroubleSince = 0;
    if (pc) {
      const report = await pc.getStats();
      report.forEach((entry) => {
        if (entry.type !== "inbound-rtp" || entry.kind !== "video") return;
        const info = client.tracksByMid.get(entry.mid);
        if (!info) return;
        const seen = this.frames.get(info.id);
        const count = entry.framesDecoded ?? 0;
        if (!seen || seen.count !== count) this.frames.set(info.id, { count, changedAt: now });
      });
    }
    for (const tile of this.tiles.values()) {
      const seen = tile.trackId ? this.frames.get(tile.trackId) : null;
      const flowing = Boolean(seen && seen.count > 0 && now - seen.changedAt < FROZEN_AFTER_MS);
      tile.setFlowing(flowing);
    }
  }
}

const app = new WallApp();
// For tests and for whoever looks at a wall from the browser's console.
window.openroom = {
  wall: app,
  board: app.board,
  get client() {
    return app.client;
  },
};
app.start();
