// The page's words: the server renders the chosen catalogue (Korean first) into the page
// config; every text the scripts show comes from here.

export const config = JSON.parse(document.body.dataset.config);
const messages = config.messages;

// t("chat.private_to", {name}) -> the catalogue's text with {name} filled in.
export function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in values ? String(values[name]) : whole,
  );
}

export function orgLabel(org) {
  if (!org || org.kind === "guest") return t("org.guest");
  return org.name ? org.name : t(`org.${org.kind}`);
}

// "구청 · 도봉구": the kind as well as the name, for roster group headings.
export function orgGroupLabel(org) {
  if (!org || org.kind === "guest") return t("org.guest");
  const kind = t(`org.${org.kind}`);
  return org.name ? `${kind} · ${org.name}` : kind;
}

export function roleLabel(role) {
  return t(`role.${role}`);
}

const clock = new Intl.DateTimeFormat(config.lang, { hour: "2-digit", minute: "2-digit" });

export function timeLabel(epochSeconds) {
  return clock.format(new Date(epochSeconds * 1000));
}
