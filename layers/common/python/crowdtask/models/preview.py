"""The Markdown preview: the message a requester writes and the HTML the worker will see."""

from pydantic import Field

from crowdtask.models.base import ApiModel, OutModel

MAX_MARKDOWN_CHARS = 20_000


class MarkdownIn(ApiModel):
    text: str = Field(
        max_length=MAX_MARKDOWN_CHARS,
        description=(
            "the message in Markdown (CommonMark with tables and ~~strikethrough~~), at most 20,000 "
            "characters. `![alt](url)` shows an image, a video (.mp4 .webm .mov .m4v .ogv), an audio "
            "file (.mp3 .aac .m4a .wav .ogg .oga .flac) or a YouTube video; a YouTube link alone in "
            "its paragraph, or a linked thumbnail, becomes a player too. Raw HTML is shown as text."
        ),
    )


class MarkdownOut(OutModel):
    html: str = Field(
        description=(
            "the message as sanitised HTML, safe to insert into a page: only text, table and media "
            "tags, http(s)/mailto links with rel=noopener noreferrer nofollow, and YouTube players "
            "from youtube-nocookie.com"
        )
    )
