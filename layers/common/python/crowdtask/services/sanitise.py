"""Requester HTML as workers may see it: an allow-list of tags, attributes and URL schemes (nh3).

The Markdown preview's output goes through the same policy (services/markdown.py), as do a task's
`details` and an Html text, when they are saved.
"""

from __future__ import annotations

import re
from functools import cache

import nh3

YOUTUBE_EMBED = "https://www.youtube-nocookie.com/embed/"
_EMBED_SRC = re.compile(re.escape(YOUTUBE_EMBED) + r"[A-Za-z0-9_-]{11}")
_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")
# The attributes every player carries; the sanitiser accepts exactly these values and no others.
PLAYER_ATTRIBUTES = {
    "loading": "lazy",
    "referrerpolicy": "strict-origin-when-cross-origin",
    "allow": "encrypted-media; picture-in-picture",
}

_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"),
    *("strong", "em", "b", "i", "s", "del", "ul", "ol", "li"),
    *("table", "thead", "tbody", "tr", "th", "td"),
    *("a", "img", "video", "audio", "source", "iframe"),
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "video": {"src", "controls", "type"},
    "audio": {"src", "controls", "type"},
    "source": {"src", "type"},
    "iframe": {"src", "title", "allowfullscreen"},
    "ol": {"start"},
    "code": {"class"},
}
ALIGNMENTS = {"left", "center", "right"}
_ATTRIBUTE_VALUES = {
    "th": {"align": ALIGNMENTS},
    "td": {"align": ALIGNMENTS},
    "iframe": {name: {value} for name, value in PLAYER_ATTRIBUTES.items()},
}


def sanitise_html(html: str) -> str:
    """Requester HTML (a task's `details`, an Html text) as workers may see it: the preview's policy."""
    return _sanitiser().clean(html)


# ---------------------------------------------------------------------- nh3
@cache
def _sanitiser() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        tag_attribute_values=_ATTRIBUTE_VALUES,
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
    )


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Value checks the allow-list cannot express: players only from YouTube, languages as classes."""
    if tag == "iframe" and attribute == "src":
        return value if _EMBED_SRC.fullmatch(value) else None
    if tag == "code" and attribute == "class":
        return value if _LANGUAGE_CLASS.fullmatch(value) else None
    if tag == "ol" and attribute == "start":
        return value if value.isdigit() and len(value) <= 9 else None
    return value
