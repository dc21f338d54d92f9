// A submit button with data-busy-label shows that label, disabled, while its request runs
// ("Testing…" while a connection test waits on Xero), so nobody presses it twice. With
// data-busy-note too, a status line after the form says what is happening and how long it
// may take at most, and counts the seconds. Without script the button simply submits.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (!button || !button.dataset.busyLabel) return;
  // After this turn: the browser has already taken the form's data, button included.
  setTimeout(() => {
    button.dataset.idleLabel = button.textContent;
    button.textContent = button.dataset.busyLabel;
    button.disabled = true;
    if (button.dataset.busyNote) showBusyNote(event.target, button.dataset.busyNote);
  }, 0);
  event.target.setAttribute("aria-busy", "true");
});

function showBusyNote(form, text) {
  const note = document.createElement("p");
  note.className = "xero-busy-note";
  note.setAttribute("role", "status");
  note.textContent = text;
  // The count is for the eye; a screen reader hears the sentence once, not every second.
  const elapsed = document.createElement("span");
  elapsed.setAttribute("aria-hidden", "true");
  note.append(" ", elapsed);
  form.after(note);
  const started = Date.now();
  const tick = () => {
    elapsed.textContent = `(${Math.floor((Date.now() - started) / 1000)} s so far)`;
  };
  tick();
  note.dataset.timer = String(setInterval(tick, 1000));
}

// Back to a page kept in the browser's cache: its buttons work again.
window.addEventListener("pageshow", () => {
  for (const button of document.querySelectorAll("button[data-idle-label]")) {
    button.textContent = button.dataset.idleLabel;
    button.disabled = false;
    button.closest("form")?.removeAttribute("aria-busy");
  }
  for (const note of document.querySelectorAll(".xero-busy-note")) {
    clearInterval(Number(note.dataset.timer));
    note.remove();
  }
});
