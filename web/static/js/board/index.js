// The shared board in the room page: keeps the BoardState in step with the server (snapshot,
// numbered operations, gaps -> a fresh snapshot, live feeds, the presenter's pointer) and
// offers the actions a role allows: layouts, the panel library, notes, documents, images.
import { h } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";
import { BoardState } from "./state.js";
import { BoardView } from "./view.js";

export class BoardClient {
  constructor(client) {
    this.client = client; // RoomClient (protocol.js)
    this.state = new BoardState();
    this.view = null;
    this._resyncing = false;
  }

  get selfId() {
    return this.client.self?.id;
  }

  get permissions() {
    return new Set(this.client.permissions ?? []);
  }

  // Called with each join (or admitted / resumed) snapshot, and after a reconnection.
  attach(snapshot) {
    if (snapshot?.board) this.state.loadSnapshot(snapshot);
    const socket = this.client.socket;
    if (socket.__boardListeners) return;
    socket.__boardListeners = true;
    socket.on("board-op", (op) => {
      if (!this.state.applyOp(op)) this.resync();
    });
    socket.on("feed", ({ channel, values }) => {
      for (const value of values) this.state.applyFeedValue(channel, value);
    });
    socket.on("board-pointer", (pointer) => this.view?.showPointer(pointer));
    socket.on("document-progress", (progress) => this.onDocumentProgress?.(progress));
  }

  async resync() {
    if (this._resyncing) return;
    this._resyncing = true;
    try {
      const snapshot = await this.client.request("board-snapshot", {});
      this.state.loadSnapshot(snapshot);
    } finally {
      this._resyncing = false;
    }
  }

  async operate(type, payload = {}) {
    const reply = await this.client.request("board-op", { type, ...payload });
    if (!this.state.applyOp(reply.op)) await this.resync();
    return reply.op;
  }

  can(panel, what) {
    const moderator = this.permissions.has("moderate");
    const pusher = this.permissions.has("board_push");
    if (what === "focus") return pusher || moderator;
    if (what === "push") return pusher;
    return moderator || (pusher && panel?.ownerId === this.selfId); // present, remove
  }

  mount(container, toolbar) {
    this.view = new BoardView(container, this.state, {
      can: (panel, what) => this.can(panel, what),
      actions: {
        focus: (panelId) => this.operate("focus", { panelId }).catch(report),
        remove: (panelId) => this.operate("remove", { panelId }).catch(report),
        page: (panelId, page) => this.operate("page", { panelId, page }).catch(report),
        pointer: (panelId, point) =>
          this.client.request("board-pointer", { panelId, ...point }).catch(() => {}),
      },
    });
    if (toolbar) this.mountToolbar(toolbar);
  }

  mountToolbar(toolbar) {
    const layouts = [1, 2, 4, 6].map((layout) =>
      h("button", {
        className: "layout",
        text: String(layout),
        title: t("board.layout"),
        dataset: { layout: String(layout) },
        onclick: () => this.operate("layout", { layout }).catch(report),
      }),
    );
    const fileInput = h("input", {
      type: "file",
      accept: "application/pdf,image/png,image/jpeg",
      hidden: true,
      onchange: () => {
        const file = fileInput.files?.[0];
        fileInput.value = "";
        if (file) this.upload(file).catch(report);
      },
    });
    this.progress = h("span", { className: "board-progress", role: "status" });
    toolbar.replaceChildren(
      h("span", { className: "board-label", text: t("board.layout") }),
      ...layouts,
      h("button", { text: t("board.library"), onclick: () => this.openLibrary().catch(report) }),
      h("button", { text: t("board.add_note"), onclick: () => this.addNote() }),
      h("button", { text: t("board.upload"), onclick: () => fileInput.click() }),
      fileInput,
      this.progress,
    );
    const sync = () => {
      for (const button of layouts) {
        button.setAttribute("aria-pressed", String(Number(button.dataset.layout) === this.state.layout));
      }
      toolbar.hidden = !this.permissions.has("board_push");
    };
    this.state.addEventListener("change", sync);
    sync();
  }

  async openLibrary() {
    const { items } = await this.client.request("library-list", {});
    const dialog = h("dialog", { className: "library-dialog" });
    const list = h(
      "ul",
      { className: "library-items" },
      ...items.map((item) =>
        h(
          "li",
          {},
          h("strong", { text: item.name }),
          h("small", { text: ` ${item.org?.name || ""} · ${item.panels.length}` }),
          h("button", {
            text: t("board.push"),
            onclick: async () => {
              dialog.close();
              await this.client.request("library-push", { itemId: item.id }).then(
                (reply) => reply.ops.forEach((op) => this.state.applyOp(op) || this.resync()),
                report,
              );
            },
          }),
        ),
      ),
    );
    const saveAll = h("button", {
      text: t("board.save_to_library"),
      disabled: this.state.panels.size === 0,
      onclick: async () => {
        const name = window.prompt(t("board.library_name"));
        if (!name) return;
        const panelIds = [...this.state.panels.keys()].slice(0, 12);
        await this.client.request("library-save", { name, panelIds }).catch(report);
        dialog.close();
      },
    });
    dialog.append(
      h("h2", { text: t("board.library") }),
      list,
      h("div", { className: "dialog-actions" }, saveAll, h("button", { text: t("board.close"), onclick: () => dialog.close() })),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  addNote() {
    const dialog = h("dialog", { className: "note-dialog" });
    const title = h("input", { placeholder: t("board.note_title"), maxLength: 120 });
    const text = h("textarea", { rows: 8, placeholder: t("board.note_placeholder"), maxLength: 20000 });
    dialog.append(
      h("h2", { text: t("board.add_note") }),
      title,
      text,
      h(
        "div",
        { className: "dialog-actions" },
        h("button", {
          text: t("board.push"),
          onclick: () => {
            const panel = { kind: "note", title: title.value.trim() || t("board.note"), data: { markdown: text.value } };
            this.operate("push", { panel }).then(() => dialog.close(), report);
          },
        }),
        h("button", { text: t("board.close"), onclick: () => dialog.close() }),
      ),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  // PDF: uploaded, rendered by the server in the background (progress arrives as events),
  // then pushed as a document panel. Images: uploaded, then pushed.
  async upload(file) {
    const isPdf = file.type === "application/pdf";
    const kind = isPdf ? "documents" : "images";
    this.progress.textContent = t("board.uploading");
    const name = encodeURIComponent(file.name.slice(0, 200));
    const response = await fetch(`/api/rooms/${encodeURIComponent(this.client.room)}/${kind}?name=${name}`, {
      method: "POST",
      headers: { "Content-Type": file.type || "application/octet-stream", "X-Openroom-Session": this.client.socket.id },
      body: file,
    });
    const reply = await response.json();
    if (!response.ok) throw new Error(reply.error?.message ?? response.statusText);
    const title = file.name.replace(/\.[^.]+$/, "").slice(0, 120) || file.name;
    if (!isPdf) {
      this.progress.textContent = "";
      await this.operate("push", { panel: { kind: "image", title, data: { imageId: reply.imageId, alt: title } } });
      return;
    }
    const push = (pageCount) =>
      this.operate("push", {
        panel: { kind: "document", title, data: { documentId: reply.documentId, page: 1, pageCount, name: file.name.slice(0, 120) } },
      });
    if (reply.status === "ready") {
      this.progress.textContent = "";
      await push(reply.pageCount);
      return;
    }
    await new Promise((resolve, reject) => {
      this.onDocumentProgress = (progress) => {
        if (progress.documentId !== reply.documentId) return;
        this.progress.textContent = t("board.rendering", { done: progress.rendered, total: progress.pageCount });
        if (progress.status === "ready") {
          this.onDocumentProgress = null;
          this.progress.textContent = "";
          push(progress.pageCount).then(resolve, reject);
        } else if (progress.status === "failed") {
          this.onDocumentProgress = null;
          this.progress.textContent = "";
          reject(new Error(progress.error?.message ?? "render failed"));
        }
      };
    });
  }
}

function report(error) {
  console.warn("board", error);
  const banner = document.getElementById("banner");
  if (banner) {
    banner.textContent = `${t("room.error")}: ${error.message ?? error}`;
    banner.dataset.kind = "error";
    banner.hidden = false;
  }
}
