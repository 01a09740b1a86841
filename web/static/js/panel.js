// The side panel: tabs for the participants and the chat, opened and closed from the control
// bar; tells whoever cares which tab became visible (the chat clears its unread count).

const TABS = ["people", "chat"];

export class SidePanel extends EventTarget {
  constructor() {
    super();
    this.element = document.getElementById("side-panel");
    this.current = "people";
    for (const name of TABS) {
      this._tab(name).addEventListener("click", () => this.open(name));
    }
    document.getElementById("panel-close").addEventListener("click", () => this.close());
    this.element.addEventListener("keydown", (event) => this._arrowKeys(event));
  }

  _tab(name) {
    return document.getElementById(`tab-${name}`);
  }

  isShowing(name) {
    return !this.element.hidden && this.current === name;
  }

  open(name) {
    this.current = name;
    this.element.hidden = false;
    document.body.dataset.panel = name;
    for (const tab of TABS) {
      const selected = tab === name;
      this._tab(tab).setAttribute("aria-selected", String(selected));
      this._tab(tab).tabIndex = selected ? 0 : -1;
      document.getElementById(`panel-${tab}`).hidden = !selected;
    }
    this._pressToggles();
    this.dispatchEvent(new CustomEvent("shown", { detail: { tab: name } }));
  }

  close() {
    this.element.hidden = true;
    delete document.body.dataset.panel;
    this._pressToggles();
  }

  // The control bar's buttons show which tab is open.
  _pressToggles() {
    for (const tab of TABS) {
      document
        .getElementById(`open-${tab}`)
        ?.setAttribute("aria-pressed", String(this.isShowing(tab)));
    }
  }

  // The toggle buttons in the control bar: open on that tab, or close when it shows already.
  toggle(name) {
    if (this.isShowing(name)) this.close();
    else this.open(name);
  }

  _arrowKeys(event) {
    if (event.target.getAttribute("role") !== "tab") return;
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const next = TABS[(TABS.indexOf(this.current) + 1) % TABS.length];
    this.open(next);
    this._tab(next).focus();
  }
}
