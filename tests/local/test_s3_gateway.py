"""The local S3 gateway's checks of presigned POSTs and CORS preflights (no server: pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from local.s3_gateway import Refusal, check_post, cors_headers, cors_rule, form_fields
from local.template import Bucket

BUCKET = "crowdtask-local-mediabucket"
KEY = "media/a/t/0/take.aac"


def _form(expires: int = 60, secret: str = "local") -> dict[str, str]:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4"),
    )
    post = client.generate_presigned_post(
        BUCKET,
        KEY,
        Fields={"Content-Type": "audio/aac"},
        Conditions=[
            {"bucket": BUCKET},
            ["eq", "$key", KEY],
            ["starts-with", "$Content-Type", "audio/"],
            ["content-length-range", 1, 10],
        ],
        ExpiresIn=expires,
    )
    return {name.lower(): value for name, value in post["fields"].items()}


def _refusal(
    fields: dict[str, str], data: bytes | None = b"12345", now: datetime | None = None
) -> tuple[int, str]:
    with pytest.raises(Refusal) as refused:
        check_post(BUCKET, fields, data, now or datetime.now(UTC))
    return refused.value.status, refused.value.code


def test_a_form_within_its_conditions_passes():
    check_post(BUCKET, _form(), b"12345", datetime.now(UTC))


def test_each_broken_condition_is_refused_as_s3_refuses_it():
    form, signed = _form(), datetime.now(UTC)  # the form expires 60 s after it was signed
    assert _refusal({**form, "content-type": "text/html"}) == (403, "AccessDenied")
    assert _refusal({**form, "key": "media/a/t/1/take.aac"}) == (403, "AccessDenied")
    assert _refusal(form, b"x" * 11) == (400, "EntityTooLarge")
    assert _refusal(form, b"") == (400, "EntityTooSmall")
    assert _refusal(form, None) == (400, "InvalidArgument")
    assert _refusal(form, now=signed + timedelta(seconds=61)) == (403, "AccessDenied")
    assert _refusal({**form, "acl": "public-read"}) == (403, "AccessDenied")  # a field no condition covers
    assert _refusal({k: v for k, v in form.items() if k != "policy"}) == (403, "AccessDenied")
    assert _refusal(_form(secret="not the local one")) == (403, "SignatureDoesNotMatch")
    with pytest.raises(Refusal, match="Policy expired"):
        check_post(BUCKET, form, b"1", signed + timedelta(minutes=5))


def test_a_multipart_body_gives_its_fields_and_the_file():
    boundary = "xyz"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="Key"\r\n\r\n{KEY}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.aac"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"\x00\xff\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    fields, data = form_fields(f"multipart/form-data; boundary={boundary}", body)
    assert fields == {"key": KEY}
    assert data == b"\x00\xff"


def test_preflights_are_answered_from_the_buckets_cors_rules():
    rule = {
        "AllowedOrigins": ["http://127.0.0.1:3000"],
        "AllowedMethods": ["POST", "GET"],
        "AllowedHeaders": ["*"],
        "MaxAge": 60,
    }
    bucket = Bucket(
        "MediaBucket", BUCKET, f"arn:aws:s3:::{BUCKET}", {"CorsConfiguration": {"CorsRules": [rule]}}
    )
    assert cors_rule(bucket, "http://127.0.0.1:3000", "POST", ["content-type"]) == rule
    assert cors_rule(bucket, "http://evil.example", "POST", []) is None
    assert cors_rule(bucket, "http://127.0.0.1:3000", "DELETE", []) is None
    headers = cors_headers(rule, "http://127.0.0.1:3000", preflight=True, request_headers="content-type")
    assert headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert headers["Access-Control-Max-Age"] == "60"
    assert headers["Access-Control-Allow-Headers"] == "content-type"


def test_a_form_acts_with_its_signers_permissions():
    from local.template import Statement

    may_put = {"local": (Statement(("s3:PutObject",), (f"arn:aws:s3:::{BUCKET}/media/*",)),)}
    may_not = {"local": (Statement(("s3:GetObject",), (f"arn:aws:s3:::{BUCKET}/media/*",)),)}
    check_post(BUCKET, _form(), b"12345", datetime.now(UTC), may_put)
    with pytest.raises(Refusal, match="Access Denied"):
        check_post(BUCKET, _form(), b"12345", datetime.now(UTC), may_not)


def test_a_presigned_get_expires_and_acts_with_its_signers_permissions():
    from urllib.parse import parse_qsl, urlsplit

    from local.s3_gateway import check_expiry, check_signer
    from local.template import Statement

    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(signature_version="s3v4"),
    )
    url = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=60)
    query = dict(parse_qsl(urlsplit(url).query))
    check_expiry(query, datetime.now(UTC))
    with pytest.raises(Refusal, match="expired"):
        check_expiry(query, datetime.now(UTC) + timedelta(seconds=120))
    may_get = {"local": (Statement(("s3:GetObject",), (f"arn:aws:s3:::{BUCKET}/media/*",)),)}
    check_signer(may_get, query["X-Amz-Credential"], "s3:GetObject", BUCKET, KEY)
    with pytest.raises(Refusal, match="Access Denied"):
        check_signer(may_get, query["X-Amz-Credential"], "s3:PutObject", BUCKET, KEY)
    with pytest.raises(Refusal, match="Access Denied"):  # a GET of one version (the gateway's action)
        check_signer(may_get, query["X-Amz-Credential"], "s3:GetObjectVersion", BUCKET, KEY)


def test_a_forms_tagging_field_gives_the_objects_tags():
    from local.s3_gateway import tag_set

    xml = "<Tagging><TagSet><Tag><Key>retention</Key><Value>pending</Value></Tag></TagSet></Tagging>"
    assert tag_set(xml) == [{"Key": "retention", "Value": "pending"}]
    with pytest.raises(Refusal):
        tag_set("<Tagging>")


def test_a_form_field_that_is_not_utf8_is_a_400_not_a_dropped_connection():
    boundary = "xyz"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="Key"\r\n\r\n'.encode()
        + b"\xff\xfe\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    with pytest.raises(Refusal) as refused:
        form_fields(f"multipart/form-data; boundary={boundary}", body)
    assert (refused.value.status, refused.value.code) == (400, "MalformedPOSTRequest")
