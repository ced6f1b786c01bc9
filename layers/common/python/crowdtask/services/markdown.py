"""Markdown feedback to safe HTML: CommonMark with tables, media embeds, then the sanitiser.

markdown-it-py renders (raw HTML in the text stays text); our renderer rules turn media links into
`<video>`, `<audio>` and YouTube players; services/sanitise.py then keeps only what its allow-list
names. Only the preview renders Markdown, so only it loads markdown-it (60 modules, ~30 ms).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from html import escape
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from crowdtask.services.sanitise import ALIGNMENTS, PLAYER_ATTRIBUTES, YOUTUBE_EMBED, sanitise_html

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".ogv")
AUDIO_EXTENSIONS = (".mp3", ".aac", ".m4a", ".wav", ".ogg", ".oga", ".flac")

_WEB_SCHEMES = {"http", "https"}
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_HOSTS = {
    *("youtube.com", "www.youtube.com", "m.youtube.com"),
    *("youtube-nocookie.com", "www.youtube-nocookie.com"),
}


def render_preview(text: str) -> str:
    """The sanitised HTML a worker sees for the Markdown `text`."""
    return sanitise_html(_parser().render(text))


# ---------------------------------------------------------------------- media links
def youtube_video_id(url: str) -> str | None:
    """The id of the YouTube video `url` shows (watch?v=, youtu.be/, /embed/, /shorts/), else None."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    candidate: str | None = None
    if host == "youtu.be" and len(segments) == 1:
        candidate = segments[0]
    elif host in _YOUTUBE_HOSTS and segments == ["watch"]:
        candidate = parse_qs(parts.query).get("v", [""])[0]
    elif host in _YOUTUBE_HOSTS and len(segments) == 2 and segments[0] in {"embed", "shorts"}:
        candidate = segments[1]
    return candidate if candidate and _YOUTUBE_ID.fullmatch(candidate) else None


def media_kind(url: str) -> Literal["video", "audio"] | None:
    """`video` or `audio` when the URL's path ends in a media file extension, else None (an image)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES:
        return None
    path = parts.path.lower()
    if path.endswith(VIDEO_EXTENSIONS):
        return "video"
    if path.endswith(AUDIO_EXTENSIONS):
        return "audio"
    return None


def _player_html(video_id: str, title: str) -> str:
    """The privacy-enhanced YouTube player; the sanitiser lets through no other iframe."""
    fixed = "".join(f' {name}="{value}"' for name, value in PLAYER_ATTRIBUTES.items())
    title = escape(title or "YouTube video")
    return f'<iframe src="{YOUTUBE_EMBED}{video_id}" title="{title}"{fixed} allowfullscreen></iframe>'


# ---------------------------------------------------------------------- markdown-it
@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    # Every destination becomes a link or image token and the sanitiser alone judges its URL: a
    # refused `javascript:` link then keeps its label instead of showing up as source text.
    parser.validateLink = _any_link  # type: ignore[method-assign, assignment]
    parser.core.ruler.push("youtube_links", _youtube_links)
    parser.core.ruler.push("table_align", _table_align)
    parser.add_render_rule("image", _render_image)
    parser.add_render_rule("youtube", _render_youtube)
    return parser


def _any_link(_url: str) -> bool:
    return True


def _render_image(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """`![alt](url)`: a YouTube player, `<video>` or `<audio>` by the URL, else the usual `<img>`."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    video_id = youtube_video_id(src)
    if video_id:
        return _player_html(video_id, alt or str(token.attrGet("title") or ""))
    kind = media_kind(src)
    if kind:
        return f'<{kind} controls src="{escape(src)}">{escape(alt)}</{kind}>'
    return renderer.image(tokens, idx, options, env)


def _render_youtube(
    _renderer: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
) -> str:
    token = tokens[idx]
    return _player_html(str(token.meta["video_id"]), str(token.meta["title"]))


def _youtube_links(state: StateCore) -> None:
    """Links that show a YouTube video become players.

    That is a linked thumbnail (`[![alt](thumbnail)](youtube url)`, anywhere), and a paragraph that
    is nothing but a YouTube URL: bare, `<autolinked>` or `[label](url)`. A link inside running text
    stays a link.
    """
    for position, block in enumerate(state.tokens):
        if block.type != "inline" or not block.children:
            continue
        alone = position > 0 and state.tokens[position - 1].type == "paragraph_open"
        block.children = _with_players(block.children, alone=alone)


def _with_players(children: list[Token], *, alone: bool) -> list[Token]:
    first, last = children[0], children[-1]
    if alone and len(children) == 1 and first.type == "text":
        video_id = youtube_video_id(first.content)
        return [_player_token(video_id, "")] if video_id else children
    links = [child for child in children if child.type == "link_open"]
    if alone and first.type == "link_open" and last.type == "link_close" and len(links) == 1:
        video_id = youtube_video_id(str(first.attrGet("href") or ""))
        inner = children[1:-1]
        if video_id and all(child.type != "image" for child in inner):
            # an <autolink>'s label is the URL itself: no use as the player's title
            return [_player_token(video_id, "" if first.markup == "autolink" else _plain_text(inner))]
    result: list[Token] = []
    index = 0
    while index < len(children):
        window = children[index : index + 3]
        if [token.type for token in window] == ["link_open", "image", "link_close"]:
            link, image = window[0], window[1]
            video_id = youtube_video_id(str(link.attrGet("href") or "")) or youtube_video_id(
                str(image.attrGet("src") or "")
            )
            if video_id:
                result.append(_player_token(video_id, _plain_text(image.children or [])))
                index += 3
                continue
        result.append(children[index])
        index += 1
    return result


def _player_token(video_id: str, title: str) -> Token:
    return Token("youtube", "iframe", 0, meta={"video_id": video_id, "title": title})


def _plain_text(tokens: Sequence[Token]) -> str:
    parts: list[str] = []
    for token in tokens:
        if token.children:
            parts.append(_plain_text(token.children))
        elif token.type in {"text", "code_inline", "image"}:
            parts.append(token.content)
    return "".join(parts).strip()


def _table_align(state: StateCore) -> None:
    """Table alignment as `align`, because the sanitiser drops every `style` attribute."""
    for token in state.tokens:
        if token.type in {"th_open", "td_open"} and token.attrs.get("style"):
            style = str(token.attrs.pop("style"))
            alignment = style.removeprefix("text-align:").strip()
            if alignment in ALIGNMENTS:
                token.attrSet("align", alignment)
