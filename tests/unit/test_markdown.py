"""Markdown preview rendering: CommonMark output, media embeds and an XSS battery that must come out inert."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from crowdtask.services.markdown import render_preview

VIDEO_ID = "dQw4w9WgXcQ"
PLAYER_SRC = f"https://www.youtube-nocookie.com/embed/{VIDEO_ID}"
EMBED_SRC = re.compile(r"https://www\.youtube-nocookie\.com/embed/[A-Za-z0-9_-]{11}")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "cite", "data", "srcset", "background"}


class TagCollector(HTMLParser):
    """Every start tag of the output with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag


def tags_of(html: str) -> list[tuple[str, dict[str, str]]]:
    collector = TagCollector()
    collector.feed(html)
    collector.close()
    return collector.tags


def only(html: str, tag: str) -> dict[str, str]:
    found = [attrs for name, attrs in tags_of(html) if name == tag]
    assert len(found) == 1, html
    return found[0]


# ---------------------------------------------------------------------- text and blocks
def test_headings_emphasis_and_strikethrough():
    html = render_preview("# Feedback\n\n## Details\n\nSome *care*, **more** care and ~~less~~ haste.")
    assert "<h1>Feedback</h1>" in html
    assert "<h2>Details</h2>" in html
    assert "<em>care</em>" in html and "<strong>more</strong>" in html and "<s>less</s>" in html


def test_lists_keep_their_start_number():
    html = render_preview("- one\n- two\n\n3. three\n4. four")
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert only(html, "ol") == {"start": "3"}


def test_tables_keep_alignment_without_style_attributes():
    html = render_preview("| item | price |\n|:-----|------:|\n| box | 2 |")
    assert "<table>" in html and '<th align="left">item</th>' in html
    assert '<td align="right">2</td>' in html
    assert "style" not in html


def test_code_keeps_its_language_class_and_escapes_its_content():
    html = render_preview("```python\nprint('<b>')\n```\n\nand `<i>` inline")
    assert [attrs for tag, attrs in tags_of(html) if tag == "code"] == [{"class": "language-python"}, {}]
    assert "&lt;b&gt;" in html and "<code>&lt;i&gt;</code>" in html


def test_links_get_rel_and_keep_title():
    html = render_preview('[guide](https://example.com/guide "How to") or [mail](mailto:team@example.com)')
    attrs = [a for tag, a in tags_of(html) if tag == "a"]
    assert attrs == [
        {"href": "https://example.com/guide", "title": "How to", "rel": "noopener noreferrer nofollow"},
        {"href": "mailto:team@example.com", "rel": "noopener noreferrer nofollow"},
    ]


def test_relative_links_lose_their_target_but_keep_their_label():
    html = render_preview("[here](/somewhere) and [there](#anchor)")
    assert [a.get("href") for tag, a in tags_of(html) if tag == "a"] == [None, None]
    assert ">here</a>" in html and ">there</a>" in html


def test_images_render_as_img():
    html = render_preview('![a labelled frame](https://example.com/frame.png "Frame 1")')
    assert only(html, "img") == {
        "src": "https://example.com/frame.png",
        "alt": "a labelled frame",
        "title": "Frame 1",
    }


def test_bare_urls_in_text_stay_text():
    html = render_preview("Find a Markdown cheat sheet at: https://example.com/cheats.")
    assert html == "<p>Find a Markdown cheat sheet at: https://example.com/cheats.</p>\n"


# ---------------------------------------------------------------------- media
@pytest.mark.parametrize("extension", [".mp4", ".webm", ".mov", ".m4v", ".ogv", ".MP4"])
def test_video_urls_become_video_players(extension):
    html = render_preview(f"![how to draw a box](https://example.com/guide/box{extension}?v=2)")
    assert only(html, "video") == {"controls": "", "src": f"https://example.com/guide/box{extension}?v=2"}
    assert ">how to draw a box</video>" in html
    assert "<img" not in html


@pytest.mark.parametrize("extension", [".mp3", ".aac", ".m4a", ".wav", ".ogg", ".oga", ".flac"])
def test_audio_urls_become_audio_players(extension):
    html = render_preview(f"![spoken instructions](https://example.com/a/read-me{extension})")
    assert only(html, "audio") == {"controls": "", "src": f"https://example.com/a/read-me{extension}"}
    assert ">spoken instructions</audio>" in html


def test_an_extension_only_in_the_query_is_still_an_image():
    html = render_preview("![x](https://example.com/thumb.png?from=clip.mp4)")
    assert "<video" not in html and only(html, "img")["src"] == "https://example.com/thumb.png?from=clip.mp4"


YOUTUBE_URLS = [
    f"https://www.youtube.com/watch?v={VIDEO_ID}",
    f"https://www.youtube.com/watch?feature=share&v={VIDEO_ID}&t=42s",
    f"http://youtube.com/watch?v={VIDEO_ID}",
    f"https://m.youtube.com/watch?v={VIDEO_ID}",
    f"https://youtu.be/{VIDEO_ID}",
    f"https://youtu.be/{VIDEO_ID}?si=abc",
    f"https://www.youtube.com/embed/{VIDEO_ID}",
    f"https://www.youtube.com/shorts/{VIDEO_ID}",
]


def assert_one_player(html: str, title: str) -> None:
    assert only(html, "iframe") == {
        "src": PLAYER_SRC,
        "title": title,
        "loading": "lazy",
        "referrerpolicy": "strict-origin-when-cross-origin",
        "allow": "encrypted-media; picture-in-picture",
        "allowfullscreen": "",
    }
    assert "<a " not in html and "<img" not in html


@pytest.mark.parametrize("url", YOUTUBE_URLS)
def test_youtube_images_become_players(url):
    assert_one_player(render_preview(f"![the walkthrough]({url})"), "the walkthrough")


@pytest.mark.parametrize("url", YOUTUBE_URLS)
def test_youtube_links_alone_in_their_paragraph_become_players(url):
    assert_one_player(render_preview(f"Watch this:\n\n{url}\n\nThanks!"), "YouTube video")
    assert_one_player(render_preview(f"<{url}>"), "YouTube video")
    assert_one_player(render_preview(f"[the walkthrough]({url})"), "the walkthrough")


def test_the_cheat_sheets_linked_thumbnail_becomes_a_player():
    text = (
        f"[![IMAGE ALT TEXT HERE](http://img.youtube.com/vi/{VIDEO_ID}/0.jpg)]"
        f"(http://www.youtube.com/watch?v={VIDEO_ID})"
    )
    assert_one_player(render_preview(text), "IMAGE ALT TEXT HERE")
    html = render_preview(f"Before you start: {text} and then begin.")
    assert only(html, "iframe")["src"] == PLAYER_SRC
    assert html.startswith("<p>Before you start: <iframe")


def test_a_youtube_link_inside_running_text_stays_a_link():
    html = render_preview(f"See [this video](https://youtu.be/{VIDEO_ID}) before you start.")
    assert "<iframe" not in html
    assert only(html, "a")["href"] == f"https://youtu.be/{VIDEO_ID}"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=tooShort",
        "https://www.youtube.com/watch?list=PL0123456789",
        f"https://www.youtube.com/channel/{VIDEO_ID}",
        f"https://youtube.com.evil.example/watch?v={VIDEO_ID}",
        f"https://evil.example/youtu.be/{VIDEO_ID}",
        f"https://youtu.be/{VIDEO_ID}/extra",
    ],
)
def test_urls_that_show_no_youtube_video_are_not_players(url):
    assert "<iframe" not in render_preview(f"![x]({url})")
    assert "<iframe" not in render_preview(url)


# ---------------------------------------------------------------------- XSS battery
XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](javascript:alert(1))",
    "![x](javascript:alert(1)//.mp4)",
    "![x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](data:video/mp4;base64,AAAA.mp4)",
    "[x]: javascript:alert(1)\n\n[y][x]",
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example">',
    '<iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" onload="alert(1)"></iframe>',
    '![x](https://evil.example/v.mp4" onerror="alert(1))',
    '![x](<https://evil.example/v.mp4" onerror="alert(1)>)',
    '![x" onerror="alert(1)](https://example.com/v.mp4)',
    "![<img src=x onerror=alert(1)>](https://example.com/a.mp3)",
    "<svg onload=alert(1)>",
    "<style>body{}</style>",
    '<div style="x">',
    "<object data=x></object><embed src=x><form action=x><input></form>",
    '![x](https://www.youtube.com/watch?v=abc"><script>)',
    '[x](https://youtu.be/dQw4w9WgXcQ"><script>alert(1)</script>)',
    "<div><b><i>unclosed <script>alert(1)",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    "<!-- <script>alert(1)</script> -->",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "```\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "> <a href=javascript:alert(1)>x</a>",
    "| a |\n|---|\n| <script>alert(1)</script> |",
    "**<svg/onload=alert(1)>**",
]
FORBIDDEN_TAGS = {"script", "style", "object", "embed", "form", "input", "svg", "math", "div", "base", "meta"}


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_come_out_inert(payload):
    html = render_preview(payload)

    assert "<script" not in html.lower()
    # nothing event-like or scripted inside any tag (escaped text outside tags is harmless)
    for tag_text in re.findall(r"<[^>]*>", html):
        assert not re.search(r"\bon\w+\s*=", tag_text, re.IGNORECASE), html
        assert "javascript:" not in tag_text.lower(), html
        assert "data:" not in tag_text.lower(), html
    for tag, attrs in tags_of(html):
        assert tag not in FORBIDDEN_TAGS, html
        assert not any(name.startswith("on") for name in attrs), html
        assert "style" not in attrs, html
        for name in URL_ATTRIBUTES & attrs.keys():
            url = re.sub(r"[\x00-\x20]", "", attrs[name]).lower()
            assert url.startswith(("https:", "http:", "mailto:")), html
        if tag == "iframe":
            assert EMBED_SRC.fullmatch(attrs.get("src", "")), html


@pytest.mark.parametrize(
    "payload", [p for p in XSS_PAYLOADS if "javascript" in p and p.startswith(("[", "!["))]
)
def test_refused_markdown_urls_leave_no_trace_of_the_scheme(payload):
    # a Markdown link or image with a refused URL keeps its label and loses the URL entirely
    assert "javascript" not in render_preview(payload).lower()


def test_raw_html_is_shown_as_text():
    html = render_preview('<b onclick="x">bold?</b>')
    assert html == '<p>&lt;b onclick="x"&gt;bold?&lt;/b&gt;</p>\n'
    assert tags_of(html) == [("p", {})]
