"""Write nginx's page for each declared service that does not answer (502, 503, 504): NAME.html.

One template, nginx/errors/unavailable.html.template, and services.toml's titles. ./stack runs it
for the native stack (into its state folder), the nginx image's build for Compose and Swarm
(docker/Dockerfile). Standard library only; the declaration's reader is the shared package's,
imported when installed, else by its path in this checkout.

Usage: render-unavailable-pages.py OUT_DIR   (services.toml found as the shared package finds it:
SSO_SERVICES_FILE, else the working folder or the nearest one above it)
"""

import html
import importlib.util
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "errors" / "unavailable.html.template"


def services_reader():
    try:
        from sso_shared.environment import services
    except ImportError:
        path = HERE.parent / "shared" / "sso_shared" / "environment" / "services.py"
        spec = importlib.util.spec_from_file_location("declared_services", path)
        services = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(services)
    return services


def pages(declared: dict[str, dict], template: str) -> dict[str, str]:
    """{NAME.html: page} for every declared service."""
    page = string.Template(template)
    found = {}
    for name, details in declared.items():
        others = [(other, html.escape(more["title"])) for other, more in declared.items() if other != name]
        links = " ".join(f'<a class="other-service" href="/{other}/">Go to {title} →</a>' for other, title in others)
        working = ", ".join(f'<a href="/{other}/">{title}</a>' for other, title in others)
        found[f"{name}.html"] = page.substitute(
            name=name,
            badge=name.upper(),
            title=html.escape(details["title"]),
            other_links=links,
            others_work=f" {working} {'works' if len(others) == 1 else 'work'} as usual." if others else "",
        )
    return found


def main(arguments: list[str]) -> int:
    if len(arguments) != 1:
        print("usage: render-unavailable-pages.py OUT_DIR", file=sys.stderr)
        return 2
    services = services_reader()
    try:
        declared = services.declared_services()
    except services.ServicesDeclarationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = Path(arguments[0])
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.html"):
        stale.unlink()
    for file_name, text in pages(declared, TEMPLATE.read_text(encoding="utf-8")).items():
        (out / file_name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
