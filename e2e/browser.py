"""A real browser for the end-to-end suite: Debian's Chromium driven by Playwright.

Playwright never downloads a browser here (the site is air-gapped): it launches
the Chromium the system already has.
"""

import base64
import hashlib
import os
import re
import subprocess
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
# Quiet and self-contained: no sandbox (tests may run as root), no network calls of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# 1000 px wide keeps the screenshots small and still shows the pages as they are.
VIEWPORT = {"width": 1000, "height": 640}
TIMEOUT_MS = 15_000

PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def public_key_pin(certificate_pem: str) -> str:
    """Chromium's pin of a certificate: base64 of the SHA-256 of its public key (SPKI, DER)."""
    public_key_pem = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout"], input=certificate_pem, capture_output=True, text=True, check=True
    ).stdout
    body = "".join(line for line in public_key_pem.splitlines() if not line.startswith("-----"))
    return base64.b64encode(hashlib.sha256(base64.b64decode(body)).digest()).decode()


def trust_arguments(ca_bundle: str | None) -> list[str]:
    """Make Chromium trust the certificates in a PEM file, and nothing else extra.

    Chromium keeps its trust store in an NSS database; pinning the public keys of
    the given certificates trusts exactly them without touching any store.
    """
    if not ca_bundle:
        return []
    pins = [public_key_pin(pem) for pem in PEM_CERTIFICATE.findall(Path(ca_bundle).read_text())]
    assert pins, f"no certificate in {ca_bundle}"
    return [f"--ignore-certificate-errors-spki-list={','.join(pins)}"]


def launch_chromium(playwright: Playwright, ca_bundle: str | None = None) -> Browser:
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"Chromium is not at {CHROMIUM}: install Debian's package (apt-get install chromium)")
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + trust_arguments(ca_bundle)
    )


class Screenshots:
    """Each step of a walkthrough as a PNG, named by its step: test artifacts, or the README's pictures."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
        return path
