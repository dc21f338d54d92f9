// Beside django-otp-webauthn's scripts (a static file, under our CSP).
// Their messages go through Django's gettext; the pages are in English and load no catalog.
window.gettext = window.gettext || ((text) => text);

// A passkey just added: reload the list, which shows it with the message the server queued.
document.addEventListener("otp_webauthn.register_complete", () => window.location.reload());
