"""A browser named the way a person would: "Firefox on Ubuntu", from its User-Agent header.

The parsing is ua-parser's (the uap-core rules every comparable system uses),
not hand-written patterns.
https://github.com/ua-parser/uap-python
"""

from functools import lru_cache

from ua_parser import parse

UNKNOWN = "Unknown browser"
# What ua-parser answers when no rule matches.
NO_MATCH = "Other"


@lru_cache(maxsize=512)
def browser_name(user_agent: str) -> str:
    """ "Chrome on Linux", "Mobile Safari on iOS", "curl"; UNKNOWN for an empty or unrecognised header."""
    if not user_agent:
        return UNKNOWN
    parsed = parse(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else NO_MATCH
    system = parsed.os.family if parsed.os else NO_MATCH
    if browser == NO_MATCH:
        return UNKNOWN
    return browser if system == NO_MATCH else f"{browser} on {system}"
