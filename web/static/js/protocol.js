// openroom's browser protocol library: signaling over Socket.IO and the two peer connections
// (publish: the browser offers; subscribe: the server offers). No DOM here: the UI listens
// to the events this client dispatches (Galene keeps protocol.js apart from its UI the same way).

import { io } from "/vendor/socket.io.esm.min.js";

export const PROTOCOL_VERSION = 1;
const GATHER_TIMEOUT_MS = 3000;

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

export class RoomClient extends EventTarget {
  constructor({ room, iceServers = [] }) {
    super();
    this.room = room;
    this.iceServers = iceServers;
    this.socket = null;
    this.self = null;
    this.participants = new Map();
    this.videoCodec = "VP8";
    this.screenTransceiver = null;
    this.publishedSources = new Map();
    this.publisher = null;
    this.subscriber = null;
    this.tracksByMid = new Map(); // subscribe mid -> track info
    this.joined = false;
    this._joinArgs = null;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  connect() {
    this.socket = io({ transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
    const socket = this.socket;
    socket.on("participant-joined", (p) => {
      this.participants.set(p.id, p);
      this._emit("participant-joined", p);
    });
    socket.on("participant-left", ({ id }) => {
      this.participants.delete(id);
      this._emit("participant-left", { id });
    });
    socket.on("participant-updated", (p) => {
      if (this.self && p.id === this.self.id) this.self = p;
      else this.participants.set(p.id, p);
      this._emit("participant-updated", p);
    });
    socket.on("track-removed", (info) => this._emit("track-removed", info));
    socket.on("track-added", (info) => this._emit("track-added", info));
    socket.on("speaking", (info) => this._emit("speaking", info));
    socket.on("dominant-speaker", (info) => this._emit("dominant-speaker", info));
    socket.on("subscriber-offer", (message, ack) => {
      this._answerSubscriber(message).then(
        (sdp) => ack({ sdp }),
        (error) => {
          console.error("subscriber negotiation failed", error);
          ack({ error: String(error) });
        },
      );
    });
    socket.on("disconnect", (reason) => {
      if (this.joined) this._emit("disconnected", { reason });
    });
    socket.io.on("reconnect", () => {
      if (this.joined) this._rejoin();
    });
    return new Promise((resolve, reject) => {
      socket.once("welcome", (info) => {
        if (info.protocol !== PROTOCOL_VERSION) {
          reject(new RequestError("unsupported_protocol", `server speaks ${info.protocol}`));
        } else resolve(info);
      });
      socket.once("connect_error", (error) => reject(error));
    });
  }

  async request(event, payload = {}) {
    const reply = await this.socket.timeout(15000).emitWithAck(event, payload);
    if (!reply || reply.ok !== true) {
      const error = reply?.error ?? { code: "no_reply", message: "no reply" };
      throw new RequestError(error.code, error.message);
    }
    return reply;
  }

  async join({ name, token, stream }) {
    this._joinArgs = { name, token, stream };
    const payload = { protocol: PROTOCOL_VERSION, room: this.room };
    if (token) payload.token = token;
    else payload.name = name;
    const reply = await this.request("join", payload);
    this.self = reply.self;
    this.videoCodec = reply.media.videoCodec;
    this.participants = new Map(
      reply.participants.filter((p) => p.id !== reply.self.id).map((p) => [p.id, p]),
    );
    this.joined = true;
    this._emit("joined", reply);
    if (stream && stream.getTracks().length) await this.publish(stream);
    return reply;
  }

  _publisherConnection() {
    if (!this.publisher) {
      const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
      pc.addEventListener("connectionstatechange", () =>
        this._emit("publisher-state", { state: pc.connectionState }),
      );
      this.publisher = pc;
      this.publishedSources = new Map(); // transceiver -> source
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

  async setMuted({ audio, video }) {
    const payload = {};
    if (audio !== undefined) payload.audioMuted = audio;
    if (video !== undefined) payload.videoMuted = video;
    for (const sender of this.publisher?.getSenders() ?? []) {
      if (!sender.track) continue;
      if (sender.track.kind === "audio" && audio !== undefined) sender.track.enabled = !audio;
      if (sender.track.kind === "video" && video !== undefined) sender.track.enabled = !video;
    }
    const reply = await this.request("set-media", payload);
    this.self = reply.self;
    return reply.self;
  }

  _closePeers() {
    this.screenTransceiver = null;
    this.publisher?.close();
    this.subscriber?.close();
    this.publisher = null;
    this.subscriber = null;
    this.tracksByMid = new Map();
  }

  async _rejoin() {
    this._closePeers();
    this._emit("reconnecting", {});
    try {
      const { name, token, stream } = this._joinArgs;
      await this.join({ name: name ?? this.self?.name, token, stream });
      this._emit("reconnected", {});
    } catch (error) {
      this._emit("error", { error });
    }
  }

  // The page is going away: say goodbye now, or the server would wait for us to come back.
  leaveOnUnload() {
    if (!this.joined || !this.socket?.connected) return;
    this.joined = false;
    this.socket.emit("leave", {});
    this.socket.disconnect();
  }

  async leave() {
    this.joined = false;
    try {
      await this.request("leave");
    } catch {
      // leaving anyway: the server drops us when the socket closes
    }
    this._closePeers();
    this.socket?.disconnect();
    this._emit("left", {});
  }

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
