// The chat tab: the room's messages and private ones, oldest first and newest at the bottom;
// a recipient chooser (everyone or one person); an unread count while the tab is not shown.
// Message text reaches the page only as text nodes and checked http(s) links.

import { h } from "/static/js/dom.js";
import { orgLabel, t, timeLabel } from "/static/js/i18n.js";
import { linkifiedText } from "/static/js/linkify.js";
import { notify } from "/static/js/notices.js";

const NEAR_BOTTOM_PX = 48;

export class ChatPanel extends EventTarget {
  constructor(client, isVisible) {
    super();
    this.client = client;
    this.isVisible = isVisible; // () => whether the chat tab is on screen
    this.log = document.getElementById("chat-log");
    this.form = document.getElementById("chat-form");
    this.input = document.getElementById("chat-text");
    this.recipient = document.getElementById("chat-to");
    this.unread = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter is a new line; never while a Korean syllable is composed
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
  }

  // The history of a join snapshot replaces whatever was shown (a resume sends it again).
  showHistory(messages) {
    this.log.replaceChildren(...messages.map((message) => this._render(message)));
    this._scrollToBottom();
    this._setUnread(0);
  }

  add(message) {
    const stick = this._nearBottom() || message.senderId === this.client.self?.id;
    this.log.append(this._render(message));
    if (stick) this._scrollToBottom();
    if (!this.isVisible() && message.senderId !== this.client.self?.id) {
      this._setUnread(this.unread + 1);
    }
  }

  markRead() {
    this._setUnread(0);
    this._scrollToBottom();
  }

  // Everyone, or one of the people present; keeps the choice while that person stays.
  updateRecipients() {
    const chosen = this.recipient.value;
    const others = [...this.client.participants.values()].filter((p) => p.role !== "display");
    others.sort((a, b) => a.name.localeCompare(b.name));
    this.recipient.replaceChildren(
      h("option", { value: "", text: t("chat.everyone") }),
      ...others.map((p) => h("option", { value: p.id, text: `${p.name} · ${orgLabel(p.org)}` })),
    );
    this.recipient.value = others.some((p) => p.id === chosen) ? chosen : "";
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    const to = this.recipient.value || null;
    this.input.disabled = true;
    try {
      await this.client.chat(text, to);
      this.input.value = "";
    } catch (error) {
      notify(`${t("chat.not_sent")}: ${error.message}`, { kind: "error" });
    } finally {
      this.input.disabled = false;
      this.input.focus();
    }
  }

  _nameOf(id) {
    if (id === this.client.self?.id) return t("room.you");
    return this.client.participants.get(id)?.name ?? "?";
  }

  _render(message) {
    const selfId = this.client.self?.id;
    const own = message.senderId === selfId;
    let heading = own ? t("room.you") : message.senderName;
    if (message.to) {
      heading = t("chat.private_between", {
        from: own ? t("room.you") : message.senderName,
        to: this._nameOf(message.to),
      });
    }
    const classes = ["chat-message"];
    if (own) classes.push("own");
    if (message.to) classes.push("private");
    return h(
      "li",
      {
        className: classes.join(" "),
        dataset: { messageId: message.id, senderId: message.senderId },
      },
      h(
        "div",
        { className: "chat-meta" },
        h("span", { className: "chat-sender", text: heading }),
        own ? null : h("span", { className: "chat-org", text: orgLabel(message.senderOrg) }),
        h("time", { className: "chat-time", text: timeLabel(message.sentAt) }),
      ),
      h("p", { className: "chat-text" }, linkifiedText(message.text)),
    );
  }

  _nearBottom() {
    const log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX;
  }

  _scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  _setUnread(count) {
    this.unread = count;
    this.dispatchEvent(new CustomEvent("unread", { detail: { count } }));
  }
}
