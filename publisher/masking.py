"""Every credential value this process has loaded, so that text from elsewhere (a server's
error message, which goes into the published log) can be masked of them."""

from __future__ import annotations

MASK = "********"
_values: set[str] = set()


def remember(value: str) -> None:
    """Mask `value` from now on (values shorter than 4 characters would mask too much)."""
    if len(value) >= 4:
        _values.add(value)


def mask(text: str) -> str:
    """`text` with every remembered credential value replaced by ********."""
    for value in sorted(_values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text
