// Questions to the user in the page's own <dialog> (styled and translated, unlike the
// browser's confirm/prompt): a confirmation, optionally with a short text such as a reason.

const dialog = document.getElementById("ask-dialog");
const title = document.getElementById("ask-title");
const message = document.getElementById("ask-message");
const field = document.getElementById("ask-field");
const input = document.getElementById("ask-input");
const confirmButton = document.getElementById("ask-confirm");

// Resolves with the text (or "" without input) when confirmed, null when cancelled.
export function ask({ heading, text = "", inputLabel = "", confirmLabel, danger = false }) {
  title.textContent = heading;
  message.textContent = text;
  message.hidden = !text;
  field.hidden = !inputLabel;
  field.querySelector("span").textContent = inputLabel;
  input.value = "";
  confirmButton.textContent = confirmLabel;
  confirmButton.classList.toggle("danger", danger);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "confirm" ? input.value.trim() : null),
      { once: true },
    );
    dialog.showModal();
    (inputLabel ? input : confirmButton).focus();
  });
}

document.getElementById("ask-cancel").addEventListener("click", () => dialog.close("cancel"));
