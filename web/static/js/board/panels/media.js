// Documents (rendered PDF pages, current page in sync, the presenter's pointer), images,
// notes (Markdown the server rendered and sanitised) and a participant's pinned video.
import { h } from "/static/js/dom.js";

export function renderDocument(body, panel, { onPointer, canPresent }) {
  const { documentId, page, pageCount } = panel.data;
  let frame = body.querySelector(".document-frame");
  if (!frame) {
    const image = h("img", { className: "document-page", alt: "" });
    const laser = h("div", { className: "laser", hidden: true });
    frame = h("div", { className: "document-frame" }, image, laser);
    body.replaceChildren(frame, h("div", { className: "page-number" }));
    if (canPresent) {
      let last = 0;
      image.addEventListener("pointermove", (event) => {
        const now = performance.now();
        if (now - last < 50) return; // 20 pointer updates a second are plenty
        last = now;
        const box = image.getBoundingClientRect();
        onPointer({
          x: Math.min(1, Math.max(0, (event.clientX - box.left) / box.width)),
          y: Math.min(1, Math.max(0, (event.clientY - box.top) / box.height)),
          visible: true,
        });
      });
      image.addEventListener("pointerleave", () => onPointer({ x: 0, y: 0, visible: false }));
    }
  }
  const image = frame.querySelector("img");
  const source = `/documents/${encodeURIComponent(documentId)}/pages/${page}.png`;
  if (image.getAttribute("src") !== source) image.src = source;
  image.alt = `${panel.title} ${page}/${pageCount}`;
  body.querySelector(".page-number").textContent = `${page} / ${pageCount}`;
  body.dataset.page = String(page);
}

export function showPointer(body, pointer) {
  const laser = body.querySelector(".laser");
  if (!laser) return;
  laser.hidden = !pointer.visible;
  laser.style.left = `${pointer.x * 100}%`;
  laser.style.top = `${pointer.y * 100}%`;
}

export function renderImage(body, panel) {
  const source = `/images/${encodeURIComponent(panel.data.imageId)}`;
  const existing = body.querySelector("img");
  if (existing?.getAttribute("src") === source) return;
  body.replaceChildren(h("img", { className: "board-image", src: source, alt: panel.data.alt || panel.title }));
}

export function renderNote(body, panel) {
  // The server rendered this HTML from Markdown and cleaned it with a real sanitiser
  // (ammonia): no script, style, event handler or foreign URL scheme can be in it.
  const note = h("div", { className: "note" });
  note.innerHTML = panel.data.html ?? "";
  body.replaceChildren(note);
}

export function renderVideo(body, panel) {
  const source = document.querySelector(
    `#tiles .tile[data-participant-id="${CSS.escape(panel.data.participantId)}"] video`,
  );
  let video = body.querySelector("video");
  if (!video) {
    video = h("video", { autoplay: true, muted: true, playsInline: true, className: "pinned-video" });
    body.replaceChildren(video);
  }
  if (source?.srcObject && video.srcObject !== source.srcObject) {
    video.srcObject = source.srcObject;
    video.play().catch(() => {});
  }
  body.classList.toggle("no-video", !source?.srcObject);
  // The participant's track may not have arrived yet (or may be replaced on reconnection):
  // look again until the panel is gone.
  if (!body.dataset.watching) {
    body.dataset.watching = "1";
    const timer = setInterval(() => {
      if (!body.isConnected) clearInterval(timer);
      else renderVideo(body, panel);
    }, 1000);
  }
}
