// Short-lived notices in a corner (muted by a moderator, someone asks to speak, errors),
// optionally with one action button. The text is set with textContent.

import { h } from "/static/js/dom.js";

const container = document.getElementById("notices");
const DEFAULT_SECONDS = 6;

export function notify(text, { kind = "info", seconds = DEFAULT_SECONDS, action = null } = {}) {
  const notice = h("div", { className: `notice ${kind}`, role: "status" }, h("span", { text }));
  const dismiss = () => notice.remove();
  if (action) {
    notice.append(
      h("button", {
        type: "button",
        className: "small",
        text: action.label,
        onclick: () => {
          dismiss();
          action.run();
        },
      }),
    );
  }
  notice.append(
    h("button", {
      type: "button",
      className: "close",
      "aria-label": "×",
      text: "×",
      onclick: dismiss,
    }),
  );
  container.append(notice);
  if (seconds) setTimeout(dismiss, seconds * 1000);
  return notice;
}
