// Building DOM without markup strings: user-written text only ever becomes a text node.

// h("button", {className: "x", text: "보내기", onclick}, child...)
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") element.textContent = value;
    else if (key === "className") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

// Put `child` at `index` of `parent` only when it is not already there, so a row that keeps
// its place keeps its focus and any open menu.
export function placeAt(parent, child, index) {
  const current = parent.children[index];
  if (current !== child) parent.insertBefore(child, current ?? null);
}
