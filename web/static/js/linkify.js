// Chat text to DOM: http(s) links become <a> elements, everything else stays text. Built with
// DOM APIs only, so a message that looks like HTML is shown as the characters it is.

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Sentence punctuation right after a link belongs to the sentence, not to the link.
const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"’”。、]+$/u;

function safeLink(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

export function linkifiedText(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const raw = match[0].replace(TRAILING_PUNCTUATION, "");
    if (!raw || !safeLink(raw)) continue;
    fragment.append(document.createTextNode(text.slice(last, match.index)));
    const link = document.createElement("a");
    link.setAttribute("href", raw); // what was written; checked above to be http(s)
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = raw;
    fragment.append(link);
    last = match.index + raw.length;
  }
  fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}
