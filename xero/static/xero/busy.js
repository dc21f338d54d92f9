// A submit button with data-busy-label shows that label, disabled, while its request runs
// ("Testing…" while a connection test waits on Xero), so nobody presses it twice.
// Without script the button simply submits.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (!button || !button.dataset.busyLabel) return;
  // After this turn: the browser has already taken the form's data, button included.
  setTimeout(() => {
    button.dataset.idleLabel = button.textContent;
    button.textContent = button.dataset.busyLabel;
    button.disabled = true;
  }, 0);
  event.target.setAttribute("aria-busy", "true");
});

// Back to a page kept in the browser's cache: its buttons work again.
window.addEventListener("pageshow", () => {
  for (const button of document.querySelectorAll("button[data-idle-label]")) {
    button.textContent = button.dataset.idleLabel;
    button.disabled = false;
    button.closest("form")?.removeAttribute("aria-busy");
  }
});
