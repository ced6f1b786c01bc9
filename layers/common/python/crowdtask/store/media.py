"""The media bucket: presigned upload forms and download URLs, object heads and retention tags.

Objects are keyed `media/{assignment}/{task}/{component}/{random}{.ext}`; a result names one by its
URL, the bucket's URL plus the key. Signing is local to the function (no AWS call): only heads and
tags are requests, and the bytes of a file never pass through a function.

The bucket keeps versions: an upload form stays usable until it expires, so a worker may POST to the
same key again after a submission checked the object. The submission records the version it checked
(`StoredObject.version_id`); downloads and retention tags then name that version, never the key's
latest bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from crowdtask.config import settings
from crowdtask.store import aws

KEY_PREFIX = "media"
# The bucket's lifecycle rules expire objects by their `retention` tag: an upload is "pending" until a
# submission names it ("kept"); a rejection marks it "discard". Pending objects are those of
# assignments never submitted (released, expired, or a form used twice).
RETENTION_KEY = "retention"
PENDING, KEPT, DISCARD = "pending", "kept", "discard"


def tagging_xml(value: str) -> str:
    """The `tagging` form field of a presigned POST: the object's retention tag."""
    return f"<Tagging><TagSet><Tag><Key>{RETENTION_KEY}</Key><Value>{value}</Value></Tag></TagSet></Tagging>"


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    content_type: str
    version_id: str | None = None  # None in a bucket that never kept versions


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One stored version of an object; a `version_id` of None names the key's latest."""

    key: str
    version_id: str | None = None

    def params(self) -> dict[str, str]:
        return {"Key": self.key, **({"VersionId": self.version_id} if self.version_id else {})}


@lru_cache(maxsize=1)
def _client() -> Any:
    config = Config(signature_version="s3v4", retries={"mode": "standard"})
    if settings().local_s3_endpoint:
        return aws.client("s3", config=config)  # a local endpoint: path-style, botocore's choice
    # On AWS the regional virtual-hosted endpoint: a browser posting a presigned form to the global
    # one (what botocore signs for by default) is redirected while a new bucket's name propagates.
    region = aws.session().region_name or "us-east-1"
    return aws.client(
        "s3",
        endpoint_url=f"https://s3.{region}.amazonaws.com",
        config=config.merge(Config(s3={"addressing_style": "virtual"})),
    )


def _bucket() -> str:
    name = settings().require("media_bucket_name").media_bucket_name
    assert name is not None
    return name


def key_prefix(assignment_id: str, task_id: str, component: int) -> str:
    """Every object one component of one task of one assignment may use starts with this."""
    return f"{KEY_PREFIX}/{assignment_id}/{task_id}/{component}/"


@lru_cache(maxsize=1)
def bucket_url() -> str:
    """The bucket's URL, ending with "/"; an object's URL is this plus its key."""
    url = str(_client().generate_presigned_post(_bucket(), f"{KEY_PREFIX}/")["url"])
    return url if url.endswith("/") else url + "/"


def object_url(key: str) -> str:
    return bucket_url() + key


def key_of(url: str) -> str | None:
    """The key an object URL names in the media bucket; None for any other URL."""
    base = bucket_url()
    if not url.startswith(base):
        return None
    key = url[len(base) :]
    return key if key.startswith(f"{KEY_PREFIX}/") and "?" not in key and "#" not in key else None


def upload_form(
    key: str, content_type: str, family: str, max_bytes: int, expires_seconds: int
) -> tuple[str, dict[str, str]]:
    """A presigned POST for exactly `key`, a type of `family` and at most `max_bytes`: (url, fields)."""
    tagging = tagging_xml(PENDING)
    post = _client().generate_presigned_post(
        _bucket(),
        key,
        Fields={"Content-Type": content_type, "tagging": tagging},
        Conditions=[
            {"bucket": _bucket()},
            {"tagging": tagging},
            ["eq", "$key", key],
            ["starts-with", "$Content-Type", f"{family}/"],
            ["content-length-range", 1, max_bytes],
        ],
        ExpiresIn=expires_seconds,
    )
    return str(post["url"]), {str(k): str(v) for k, v in post["fields"].items()}


def head(key: str) -> StoredObject | None:
    """The latest version's size, type and version id, or None when there is none."""
    try:
        found = _client().head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (403, 404) or exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return None
        raise
    version = found.get("VersionId")
    return StoredObject(
        key,
        int(found["ContentLength"]),
        str(found.get("ContentType") or ""),
        str(version) if version and version != "null" else None,
    )


def download_url(stored: ObjectVersion, expires_seconds: int) -> str:
    """A presigned GET of that version of the object, valid for `expires_seconds`."""
    return str(
        _client().generate_presigned_url(
            "get_object", Params={"Bucket": _bucket(), **stored.params()}, ExpiresIn=expires_seconds
        )
    )


def mark_retention(objects: list[ObjectVersion], value: str) -> None:
    """Set the versions' retention tag (PENDING, KEPT or DISCARD) for the bucket's lifecycle rules."""
    for stored in objects:
        _client().put_object_tagging(
            Bucket=_bucket(),
            **stored.params(),
            Tagging={"TagSet": [{"Key": RETENTION_KEY, "Value": value}]},
        )


def mark_discarded(objects: list[ObjectVersion]) -> None:
    mark_retention(objects, DISCARD)


def mark_kept(objects: list[ObjectVersion]) -> None:
    mark_retention(objects, KEPT)
