"""Requests sent exactly as written, for paths no browser or `requests` would send.

`requests` (urllib3) removes dot segments and re-quotes paths, so `/a/../b/` would arrive as
`/b/`; http.client sends the request line as given. Non-ASCII characters go out as raw UTF-8
bytes, and a lone surrogate escape (`"\\udcff"`) as that single byte, as a hostile client could.
"""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit


class RawConnection(http.client.HTTPConnection):
    def _encode_request(self, request: str) -> bytes:  # http.client would insist on ASCII
        return request.encode("utf-8", "surrogateescape")


class RawTLSConnection(http.client.HTTPSConnection):
    def _encode_request(self, request: str) -> bytes:
        return request.encode("utf-8", "surrogateescape")


class RawSite:
    """One keep-alive connection to the site at base_url; reconnects when the server closes it."""

    def __init__(self, base_url: str, verify=True, timeout: float = 15):
        parts = urlsplit(base_url)
        self.host_header = parts.netloc
        self.hostname = parts.hostname
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            self.connection = RawTLSConnection(parts.hostname, parts.port or 443, timeout=timeout, context=context)
        else:
            self.connection = RawConnection(parts.hostname, parts.port or 80, timeout=timeout)

    def request(self, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        """Status, headers (lower-case names; repeated ones joined with ", ") and body."""
        try:
            self.connection.request(method, path, headers={"Host": self.host_header, **(headers or {})})
            response = self.connection.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # next request starts a fresh connection
            raise
        names = {name.lower() for name in response.headers}
        found = {name: ", ".join(response.headers.get_all(name)) for name in names}
        if response.will_close:
            self.connection.close()
        return response.status, found, body

    def close(self) -> None:
        self.connection.close()

    def is_loopback(self) -> bool:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(self.hostname, None))
