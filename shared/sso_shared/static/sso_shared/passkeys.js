// The two-factor page: once django-otp-webauthn's script has registered a passkey, show the page
// again (the new passkey in the list, recovery codes after the first factor). A file of its own:
// the site's Content-Security-Policy allows no inline script.
document.addEventListener("otp_webauthn.register_complete", () => window.location.reload());
