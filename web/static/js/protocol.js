// openroom's browser protocol library: signaling over Socket.IO and the two peer connections
// (publish: the browser offers; subscribe: the server offers). No DOM here: the UI listens
// to the events this client dispatches (Galene keeps protocol.js apart from its UI the same way).

import { io } from "/vendor/socket.io.esm.min.js";

export const PROTOCOL_VERSION = 1;
const GATHER_TIMEOUT_MS = 3000;
const REQUEST_TIMEOUT_MS = 15000;

// What each role may do; mirrors conference.model.ROLE_PERMISSIONS. The join snapshot carries
// the permissions, but participant-updated carries only the role, so a role change is
// translated here.
export const ROLE_PERMISSIONS = {
  host: ["board_push", "chat", "moderate", "publish", "record", "subscribe"],
  moderator: ["board_push", "chat", "moderate", "publish", "subscribe"],
  participant: ["board_push", "chat", "publish", "subscribe"],
  viewer: ["chat", "subscribe"],
  display: ["display", "subscribe"],
};

export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function waitForIceGathering(pc) {
  // aiortc does not take trickled candidates: the SDP must carry them all.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function codecPreferences(kind, videoCodec) {
  const codecs = RTCRtpReceiver.getCapabilities(kind)?.codecs ?? [];
  if (kind === "audio") return codecs.filter((c) => c.mimeType.toLowerCase() === "audio/opus");
  const wanted = `video/${videoCodec}`.toLowerCase();
  let chosen = codecs.filter((c) => c.mimeType.toLowerCase() === wanted);
  if (videoCodec.toUpperCase() === "H264") {
    chosen = chosen.filter(
      (c) =>
        /profile-level-id=42e01f/i.test(c.sdpFmtpLine ?? "") &&
        /packetization-mode=1/.test(c.sdpFmtpLine ?? ""),
    );
  }
  return chosen.concat(codecs.filter((c) => c.mimeType.toLowerCase() === "video/rtx"));
}

// Where a joined participant keeps what it needs to come back as the same roster entry (the
// server holds the seat for reconnectGraceSeconds). sessionStorage: per tab, gone with the tab.
export class ResumeStore {
  constructor(storage = globalThis.sessionStorage, key = "openroom.resume") {
    this.storage = storage;
    this.key = key;
  }

  load(room) {
    try {
      const saved = JSON.parse(this.storage?.getItem(this.key) ?? "null");
      return saved && saved.room === room && saved.participantId && saved.resumeToken
        ? saved
        : null;
    } catch {
      return null;
    }
  }

  save(entry) {
    try {
      this.storage?.setItem(this.key, JSON.stringify(entry));
    } catch {
      // storage can be full or disabled: resuming after a reload is a convenience
    }
  }

  clear() {
    try {
      this.storage?.removeItem(this.key);
    } catch {
      // as above
    }
  }
}

// Client states. "reconnecting": the socket dropped while joined, the server keeps our seat;
// "requeueing": it dropped while we waited in the lobby, which the server does not keep.
const IDLE = "idle";
const WAITING = "waiting";
const JOINED = "joined";
const RECONNECTING = "reconnecting";
const REQUEUEING = "requeueing";
const ENDED = "ended";

export class RoomClient extends EventTarget {
  // joinOptions: extra fields of every join ({lastN} for a wall); reconnectionDelayMax: the
  // longest wait between two reconnection attempts of the socket, in ms.
  constructor({
    room,
    iceServers = [],
    resumeStore = new ResumeStore(),
    joinOptions = {},
    reconnectionDelayMax = 5000,
  }) {
    super();
    this.room = room;
    this.joinOptions = joinOptions;
    this.reconnectionDelayMax = reconnectionDelayMax;
    this.iceServers = iceServers;
    this.resumeStore = resumeStore;
    this.socket = null;
    this.state = IDLE;
    this.videoCodec = "VP8";
    this.screenTransceiver = null;
    this.publishedSources = new Map(); // transceiver -> source
    this.publisher = null;
    this.subscriber = null;
    this.tracksByMid = new Map(); // subscribe mid -> track info
    this._joinArgs = null;
    this._resetMeeting();
  }

  // What the client knows of the meeting; replaced by every join snapshot.
  _resetMeeting() {
    this.self = null;
    this.permissions = new Set();
    this.participants = new Map(); // everyone else, by id
    this.hands = []; // [{participantId, raisedAt}] in the order hands went up
    this.chatHistory = [];
    this.settings = {};
    this.lobby = []; // who waits (moderators only)
    this.reconnectGraceSeconds = 0;
    this.wallLayout = { layout: "grid", spotlight: null };
    this.walls = []; // walls paired to the room (moderators only)
  }

  get joined() {
    return this.state === JOINED;
  }

  can(permission) {
    return this.permissions.has(permission);
  }

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  connect() {
    this.socket = io({
      transports: ["websocket", "polling"],
      reconnectionDelayMax: this.reconnectionDelayMax,
    });
    const socket = this.socket;
    this._listen(socket);
    socket.on("disconnect", (reason) => this._onDisconnect(reason));
    socket.io.on("reconnect", () => this._onReconnect());
    return new Promise((resolve, reject) => {
      socket.once("welcome", (info) => {
        if (info.protocol !== PROTOCOL_VERSION) {
          reject(new RequestError("unsupported_protocol", `server speaks ${info.protocol}`));
        } else resolve(info);
      });
      socket.once("connect_error", (error) => reject(error));
    });
  }

  // Every server event updates the client's model first, then is dispatched under its own
  // name with the server's payload as detail.
  _listen(socket) {
    socket.on("participant-joined", (p) => {
      if (p.role === "display") return;
      this.participants.set(p.id, p);
      this._emit("participant-joined", p);
    });
    socket.on("participant-left", ({ id }) => {
      this.participants.delete(id);
      this._emit("participant-left", { id });
    });
    socket.on("participant-updated", (p) => this._onParticipantUpdated(p));
    socket.on("chat", (message) => {
      this.chatHistory.push(message);
      this._emit("chat", message);
    });
    socket.on("hands", ({ queue }) => this._setHands(queue));
    socket.on("lobby-updated", ({ waiting }) => {
      this.lobby = waiting;
      this._emit("lobby-updated", { waiting });
    });
    socket.on("admitted", (snapshot) => {
      this._enter(snapshot).catch((error) => this._emit("error", { error }));
    });
    socket.on("denied", (detail) => this._end("denied", detail));
    socket.on("removed", (detail) => this._end("removed", detail));
    socket.on("meeting-ended", (detail) => this._end("meeting-ended", detail));
    socket.on("muted-by-moderator", (detail) => {
      this._applyLocalMute(detail.kind === "audio" ? "microphone" : "camera", true);
      this._emit("muted-by-moderator", detail);
    });
    socket.on("room-updated", (settings) => {
      this.settings = settings;
      this._emit("room-updated", settings);
    });
    socket.on("wall-layout", (layout) => {
      this.wallLayout = layout;
      this._emit("wall-layout", layout);
    });
    socket.on("walls-updated", ({ walls }) => {
      this.walls = walls;
      this._emit("walls-updated", { walls });
    });
    for (const name of [
      "wall-paired",
      "wall-unpaired",
      "speak-request",
      "speak-allowed",
      "speaking",
      "dominant-speaker",
      "track-added",
      "track-removed",
    ]) {
      socket.on(name, (detail) => this._emit(name, detail));
    }
    socket.on("subscriber-offer", (message, ack) => {
      this._answerSubscriber(message).then(
        (sdp) => ack({ sdp }),
        (error) => {
          console.error("subscriber negotiation failed", error);
          ack({ error: String(error) });
        },
      );
    });
  }

  _onParticipantUpdated(p) {
    if (this.self && p.id === this.self.id) {
      const roleChanged = p.role !== this.self.role;
      this.self = p;
      // the server is the authority on our mute state (a moderator may have changed it)
      this._applyLocalMute("microphone", p.audioMuted);
      this._applyLocalMute("camera", p.videoMuted);
      if (roleChanged) this._onOwnRoleChanged(p.role);
    } else if (p.role !== "display") {
      this.participants.set(p.id, p);
    }
    this._emit("participant-updated", p);
  }

  _onOwnRoleChanged(role) {
    this.permissions = new Set(ROLE_PERMISSIONS[role] ?? []);
    if (!this.can("moderate")) this.lobby = [];
    this._emit("permissions-changed", { role, permissions: [...this.permissions] });
    // promoted from viewer: start publishing what we already captured
    const stream = this._joinArgs?.stream;
    if (this.can("publish") && !this.publisher && stream?.getTracks().length) {
      this.publish(stream).catch((error) => this._emit("error", { error }));
    }
  }

  _setHands(queue) {
    this.hands = queue;
    this._emit("hands", { queue });
  }

  _onDisconnect(reason) {
    if (this.state === JOINED) {
      if (reason === "io server disconnect") {
        // the server closed us without a reason event: the same person joined elsewhere
        this._end("disconnected", { reason });
        return;
      }
      this.state = RECONNECTING;
      this._closePeers();
      this._emit("reconnecting", { reason });
    } else if (this.state === WAITING) {
      this.state = REQUEUEING;
      this._emit("reconnecting", { reason });
    }
  }

  async _onReconnect() {
    try {
      if (this.state === RECONNECTING) {
        const resumed = await this._resumeOrJoin(this._resumeEntry());
        this._emit("reconnected", { resumed });
      } else if (this.state === REQUEUEING) {
        await this._freshJoin();
        this._emit("reconnected", { resumed: false });
      }
    } catch (error) {
      this._end("join-failed", { error });
    }
  }

  async request(event, payload = {}) {
    const reply = await this.socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck(event, payload);
    if (!reply || reply.ok !== true) {
      const error = reply?.error ?? { code: "no_reply", message: "no reply" };
      throw new RequestError(error.code, error.message);
    }
    return reply;
  }

  // -- joining, the lobby, coming back ---------------------------------------------------

  // Resolves with the join reply: either the meeting snapshot, or {waiting: true} when a
  // moderator must admit us first (then "admitted" or "denied" follows). A seat kept for this
  // tab (the page died without saying goodbye) is resumed first.
  async join({ name, token, stream }) {
    this._joinArgs = { name, token, stream };
    const saved = this.resumeStore.load(this.room);
    if (saved) {
      await this._resumeOrJoin(saved);
      return this.self && this.state === JOINED ? this._lastSnapshot : this._lastReply;
    }
    return this._freshJoin();
  }

  // true when the server kept our seat; false when the grace period was over and we joined
  // anew (a new participant id, maybe the lobby again).
  async _resumeOrJoin(entry) {
    if (entry) {
      try {
        const reply = await this.request("join", {
          protocol: PROTOCOL_VERSION,
          room: this.room,
          resume: { participantId: entry.participantId, resumeToken: entry.resumeToken },
          ...this.joinOptions,
        });
        await this._enter(reply);
        return true;
      } catch (error) {
        if (error.code !== "resume_expired") throw error;
        this.resumeStore.clear();
      }
    }
    await this._freshJoin();
    return false;
  }

  async _freshJoin() {
    const { name, token } = this._joinArgs;
    const payload = { protocol: PROTOCOL_VERSION, room: this.room, ...this.joinOptions };
    if (token) payload.token = token;
    else payload.name = name ?? this.self?.name;
    const reply = await this.request("join", payload);
    this._lastReply = reply;
    if (reply.waiting) {
      this._resetMeeting();
      this.self = reply.self;
      this.state = WAITING;
      this._emit("waiting", reply);
      return reply;
    }
    await this._enter(reply);
    // the server starts a new entry unmuted: carry over what the user had switched off
    const muted = this._localMuteState();
    if (muted.audio || muted.video) {
      await this.setMuted({ audio: muted.audio || undefined, video: muted.video || undefined });
    }
    return reply;
  }

  _resumeEntry() {
    if (!this.self || !this._resumeToken) return null;
    return { room: this.room, participantId: this.self.id, resumeToken: this._resumeToken };
  }

  // A join snapshot (join reply, resume reply or "admitted"): take it, then publish.
  async _enter(snapshot) {
    this._resetMeeting();
    this._lastSnapshot = snapshot;
    this.self = snapshot.self;
    this.permissions = new Set(snapshot.permissions ?? []);
    this.videoCodec = snapshot.media?.videoCodec ?? this.videoCodec;
    this.participants = new Map(
      snapshot.participants
        .filter((p) => p.id !== snapshot.self.id && p.role !== "display")
        .map((p) => [p.id, p]),
    );
    this.hands = snapshot.hands ?? [];
    this.chatHistory = [...(snapshot.chat ?? [])];
    this.settings = snapshot.settings ?? {};
    this.lobby = snapshot.lobby ?? [];
    this.reconnectGraceSeconds = snapshot.reconnectGraceSeconds ?? 0;
    this.wallLayout = snapshot.wallLayout ?? this.wallLayout;
    this.walls = snapshot.walls ?? [];
    this._resumeToken = snapshot.resumeToken;
    this.resumeStore.save(this._resumeEntry());
    this._closePeers(); // a new session: the server expects new peer connections
    this.state = JOINED;
    this._emit("joined", snapshot);
    const stream = this._joinArgs?.stream;
    if (stream?.getTracks().length && this.can("publish")) await this.publish(stream);
  }

  // Gone for good (denied, removed, meeting ended, replaced, leave): nothing to resume.
  _end(type, detail = {}) {
    if (this.state === ENDED) return;
    this.state = ENDED;
    this.resumeStore.clear();
    this._closePeers();
    this._emit(type, detail);
    this.socket?.disconnect();
  }

  // The page is going away: say goodbye now, or the others would see a "reconnecting" tile
  // for the whole grace period. (A reload therefore joins as a new entry; a page that dies
  // without pagehide resumes from the ResumeStore.)
  leaveOnUnload() {
    if (this.state !== JOINED && this.state !== WAITING) return;
    this.state = ENDED;
    this.resumeStore.clear();
    if (!this.socket?.connected) return;
    this.socket.emit("leave", {});
    this.socket.disconnect();
  }

  async leave() {
    const wasIn = this.state === JOINED || this.state === WAITING;
    this.state = ENDED;
    this.resumeStore.clear();
    if (wasIn) {
      try {
        await this.request("leave");
      } catch {
        // leaving anyway: the server drops us when the socket closes
      }
    }
    this._closePeers();
    this.socket?.disconnect();
    this._emit("left", {});
  }

  // -- media ---------------------------------------------------------------------------------

  _publisherConnection() {
    if (!this.publisher) {
      const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
      pc.addEventListener("connectionstatechange", () =>
        this._emit("publisher-state", { state: pc.connectionState }),
      );
      this.publisher = pc;
      this.publishedSources = new Map();
    }
    return this.publisher;
  }

  _addPublishedTrack(track, source, stream) {
    const pc = this._publisherConnection();
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    const preferred = codecPreferences(track.kind, this.videoCodec);
    if (preferred.length) transceiver.setCodecPreferences(preferred);
    this.publishedSources.set(transceiver, source);
    return transceiver;
  }

  // One offer for every published section; the server answers and starts producers.
  async _negotiatePublisher() {
    const pc = this.publisher;
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    const sources = {};
    for (const [transceiver, source] of this.publishedSources) sources[transceiver.mid] = source;
    const reply = await this.request("publish", { sdp: pc.localDescription.sdp, sources });
    await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
  }

  async publish(stream) {
    for (const track of stream.getTracks()) {
      this._addPublishedTrack(track, track.kind === "audio" ? "microphone" : "camera", stream);
    }
    await this._negotiatePublisher();
  }

  // Screen share: a second video track (source "screen"); stopping it ends the producer.
  async startScreenShare() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    let transceiver = this.screenTransceiver;
    if (transceiver) await transceiver.sender.replaceTrack(track);
    else transceiver = this.screenTransceiver = this._addPublishedTrack(track, "screen", stream);
    track.addEventListener("ended", () => this.stopScreenShare());
    await this._negotiatePublisher();
    this._emit("screen-share", { active: true, stream });
    return stream;
  }

  async stopScreenShare() {
    const transceiver = this.screenTransceiver;
    if (!transceiver || !transceiver.sender.track) return;
    transceiver.sender.track.stop();
    await transceiver.sender.replaceTrack(null);
    try {
      await this.request("unpublish", { trackId: `${this.self.id}:${transceiver.mid}` });
    } catch (error) {
      console.warn("unpublish", error);
    }
    this._emit("screen-share", { active: false });
  }

  async _answerSubscriber({ sdp, tracks }) {
    if (!this.subscriber) {
      const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
      this.subscriber = pc;
      pc.addEventListener("track", (event) => {
        const mid = event.transceiver.mid;
        const info = this.tracksByMid.get(mid);
        if (info) this._emit("track", { mid, track: event.track, info });
      });
    }
    const pc = this.subscriber;
    const previous = this.tracksByMid;
    this.tracksByMid = new Map(Object.entries(tracks));
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await waitForIceGathering(pc);
    // Sections can be reused for another participant's track: announce every current mapping
    // that is new or changed, so the UI re-attaches the receiver's track.
    for (const transceiver of pc.getTransceivers()) {
      const info = this.tracksByMid.get(transceiver.mid);
      const before = previous.get(transceiver.mid);
      if (info && (!before || before.id !== info.id)) {
        this._emit("track", { mid: transceiver.mid, track: transceiver.receiver.track, info });
      }
    }
    return pc.localDescription.sdp;
  }

  // Camera and microphone only: a shared screen is not muted with the camera.
  _applyLocalMute(source, muted) {
    for (const [transceiver, published] of this.publishedSources) {
      const track = transceiver.sender.track;
      if (published === source && track) track.enabled = !muted;
    }
  }

  _localMuteState() {
    const state = { audio: false, video: false };
    for (const track of this._joinArgs?.stream?.getTracks() ?? []) {
      if (!track.enabled) state[track.kind] = true;
    }
    return state;
  }

  async setMuted({ audio, video }) {
    const payload = {};
    if (audio !== undefined) payload.audioMuted = audio;
    if (video !== undefined) payload.videoMuted = video;
    const reply = await this.request("set-media", payload); // refused when a moderator locked us
    if (audio !== undefined) this._applyLocalMute("microphone", audio);
    if (video !== undefined) this._applyLocalMute("camera", video);
    this.self = reply.self;
    return reply.self;
  }

  _closePeers() {
    if (this.screenTransceiver?.sender.track) {
      this.screenTransceiver.sender.track.stop();
      this._emit("screen-share", { active: false });
    }
    this.screenTransceiver = null;
    this.publisher?.close();
    this.subscriber?.close();
    this.publisher = null;
    this.subscriber = null;
    this.publishedSources = new Map();
    this.tracksByMid = new Map();
  }

  // -- chat and hands ------------------------------------------------------------------------

  // To the room, or privately to one participant (`to`: their id).
  async chat(text, to = null) {
    const payload = { text };
    if (to) payload.to = to;
    const { message } = await this.request("chat", payload);
    // the server sends a message to everyone but its sender: the reply is our copy
    this.chatHistory.push(message);
    this._emit("chat", message);
    return message;
  }

  async raiseHand() {
    const { hands } = await this.request("raise-hand");
    this._setHands(hands);
  }

  // Our own hand, or (moderators) someone else's.
  async lowerHand(participantId = null) {
    const { hands } = await this.request("lower-hand", participantId ? { participantId } : {});
    this._setHands(hands);
  }

  askToSpeak() {
    return this.request("ask-to-speak");
  }

  // -- moderation ----------------------------------------------------------------------------

  admit(participantId) {
    return this.request("admit", { participantId });
  }

  deny(participantId, reason = "") {
    return this.request("deny", reason ? { participantId, reason } : { participantId });
  }

  // kind: "audio" | "video"
  mute(participantId, kind) {
    return this.request("mute", { participantId, kind });
  }

  muteAll(kind) {
    return this.request("mute-all", { kind });
  }

  allowSpeak(participantId) {
    return this.request("allow-speak", { participantId });
  }

  remove(participantId, reason = "") {
    return this.request("remove", reason ? { participantId, reason } : { participantId });
  }

  setRole(participantId, role) {
    return this.request("set-role", { participantId, role });
  }

  async setRoom({ locked, lobby, moderatorsOnlyUnmute }) {
    const changes = Object.fromEntries(
      Object.entries({ locked, lobby, moderatorsOnlyUnmute }).filter(([, v]) => v !== undefined),
    );
    const { room } = await this.request("set-room", changes);
    this.settings = room;
    this._emit("room-updated", room);
    return room;
  }

  endMeeting() {
    return this.request("end-meeting");
  }

  // -- the mayor's wall ----------------------------------------------------------------------

  // An unpaired wall (connected, not joined): a pairing code to show, {code, expiresAt}.
  wallHello() {
    return this.request("wall-hello");
  }

  // Hosts and moderators: bind the wall showing `code` to this room.
  async pairWall(code, name = "") {
    const { wall } = await this.request("pair-wall", name ? { code, name } : { code });
    return wall;
  }

  unpairWall(wallId) {
    return this.request("unpair-wall", { wallId });
  }

  // layout: grid | speaker | board | split | spotlight; spotlight: {participantId} | {panelId}
  async setWallLayout(layout, spotlight = null) {
    const payload = spotlight ? { layout, spotlight } : { layout };
    const { wallLayout } = await this.request("set-wall-layout", payload);
    this.wallLayout = wallLayout;
    this._emit("wall-layout", wallLayout);
    return wallLayout;
  }

  // -- statistics ----------------------------------------------------------------------------

  // Receive statistics per participant, for the UI's quality hints and for tests.
  async stats() {
    const result = {};
    if (!this.subscriber) return result;
    const report = await this.subscriber.getStats();
    report.forEach((entry) => {
      if (entry.type !== "inbound-rtp") return;
      const info = this.tracksByMid.get(entry.mid);
      if (!info) return;
      const row = (result[info.participantId] ??= {
        framesDecoded: 0,
        audioPackets: 0,
        videoPackets: 0,
      });
      if (entry.kind === "video") {
        row.framesDecoded += entry.framesDecoded ?? 0;
        row.videoPackets += entry.packetsReceived ?? 0;
      } else {
        row.audioPackets += entry.packetsReceived ?? 0;
      }
    });
    return result;
  }
}
