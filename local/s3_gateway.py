"""The local S3 endpoint browsers and functions use: moto behind the checks moto leaves out.

moto stores a presigned POST's file whatever its policy says, and answers every CORS preflight
with "anything goes". In front of it this gateway does what S3 does with a browser's requests:

- a form POST to a bucket is checked as S3 checks it (signature, expiration, every condition of
  the policy, no field the policy does not cover) and refused with S3's status and XML error
  (403 AccessDenied / SignatureDoesNotMatch, 400 EntityTooLarge / EntityTooSmall) before moto
  sees it;
- an OPTIONS preflight is answered from the bucket's CorsConfiguration in template.yaml (403
  AccessForbidden when no rule allows it), and answers to a CORS request carry the rule's headers;
- a presigned GET acts with its signer's permissions: s3:GetObject, or s3:GetObjectVersion for one
  naming a `versionId`;
- a stored form POST answers `x-amz-version-id` in a versioned bucket, and its `tagging` field
  (which moto drops) tags that version, as S3 does;
- everything else (the functions' HeadObject, the runner's own calls) goes to moto.

It counts the bytes it passes, so a benchmark can show that media go from browser to bucket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from local.iam import allows
from local.services import boto_client
from local.template import Bucket, Statement

# The secret of the local credentials every function gets (local/lambdas.py).
LOCAL_SECRET = "local"  # noqa: S105 - a dummy: local services accept anything
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length"})
# Form fields a policy need not cover (S3's "POST Object" documentation).
_UNCOVERED = frozenset({"policy", "x-amz-signature", "file", "signature", "awsaccesskeyid"})


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_xml(code: str, message: str, resource: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>local</RequestId></Error>"
    ).encode()


# ---------------------------------------------------------------- POST policies


def form_fields(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """The text fields of a multipart form (names lower-cased) and the file's bytes."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise Refusal(
            400,
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
        )
    fields: dict[str, str] = {}
    data: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        if name.lower() == "file":
            data = raw
            break  # S3 ignores the fields after the file
        try:
            fields[name.lower()] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(400, "MalformedPOSTRequest", f"The form field {name} is not UTF-8 text") from None
    return fields, data


def tag_set(xml: str) -> list[dict[str, str]]:
    """The tags of a `tagging` form field (`<Tagging><TagSet><Tag><Key>..`)."""
    try:
        root = ElementTree.fromstring(xml)  # noqa: S314 - a field the presigned policy fixed
    except ElementTree.ParseError:
        raise Refusal(400, "MalformedXML", "The XML you provided was not well-formed") from None
    return [
        {"Key": tag.findtext("Key") or "", "Value": tag.findtext("Value") or ""} for tag in root.iter("Tag")
    ]


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signer_of(credential: str) -> str:
    """The access key id of a SigV4 credential (`key/date/region/service/aws4_request`)."""
    return credential.split("/", 1)[0]


def check_signer(
    policies: Mapping[str, Sequence[Statement]], credential: str, action: str, bucket: str, key: str
) -> None:
    """A presigned request acts with its signer's permissions: a function's (local/lambdas.py gives
    each its own access key) must allow `action` on the object, as IAM would on AWS."""
    policy = policies.get(signer_of(credential))
    if policy is not None and not allows(policy, action, f"arn:aws:s3:::{bucket}/{key}"):
        raise Refusal(403, "AccessDenied", "Access Denied")


def check_post(
    bucket: str,
    fields: Mapping[str, str],
    data: bytes | None,
    now: datetime,
    policies: Mapping[str, Sequence[Statement]] | None = None,
) -> None:
    """Raise Refusal as S3 would for this form POST; return when S3 would store the file."""
    if data is None:
        raise Refusal(400, "InvalidArgument", "POST requires exactly one file upload per request.")
    policy_text = fields.get("policy")
    if not policy_text:
        raise Refusal(403, "AccessDenied", "Bucket POST must contain a field named 'policy'.")
    credential = fields.get("x-amz-credential", "")
    parts = credential.split("/")
    if len(parts) != 5:
        raise Refusal(403, "AccessDenied", "Invalid according to Policy: missing or bad x-amz-credential.")
    expected = hmac.new(
        _signing_key(LOCAL_SECRET, parts[1], parts[2], parts[3]), policy_text.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        raise Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    try:
        policy = json.loads(base64.b64decode(policy_text))
        expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
        conditions = list(policy["conditions"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Refusal(400, "InvalidPolicyDocument", f"Invalid Policy: {exc}") from None
    if expiration <= now:
        raise Refusal(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    values = {**fields, "bucket": bucket}
    covered = {"bucket"}
    for condition in conditions:
        covered |= _check_condition(condition, values, len(data))
    check_signer(policies or {}, credential, "s3:PutObject", bucket, fields.get("key", ""))
    if "tagging" in fields:  # S3 authorizes a tagged upload as both actions
        check_signer(policies or {}, credential, "s3:PutObjectTagging", bucket, fields.get("key", ""))
    extra = sorted(
        name
        for name in fields
        if name not in covered and name not in _UNCOVERED and not name.startswith("x-ignore-")
    )
    if extra:
        raise Refusal(
            403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}"
        )


def _failed(condition: Any) -> Refusal:
    return Refusal(
        403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
    )


def _check_condition(condition: Any, values: Mapping[str, str], size: int) -> set[str]:
    """Check one condition; the field names it covers."""
    if isinstance(condition, Mapping):
        covered = set()
        for name, value in condition.items():
            if values.get(name.lower()) != value:
                raise _failed(condition)
            covered.add(name.lower())
        return covered
    if not isinstance(condition, Sequence) or len(condition) != 3:
        raise Refusal(400, "InvalidPolicyDocument", f"Invalid Policy: bad condition {condition!r}")
    operator = str(condition[0]).lower()
    if operator == "content-length-range":
        low, high = int(condition[1]), int(condition[2])
        if size > high:
            raise Refusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        if size < low:
            raise Refusal(
                400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
            )
        return set()
    name = str(condition[1]).lstrip("$").lower()
    given = values.get(name)
    if given is None:
        raise _failed(condition)
    if operator == "eq" and given != condition[2]:
        raise _failed(condition)
    if operator == "starts-with" and not given.startswith(str(condition[2])):
        raise _failed(condition)
    if operator not in ("eq", "starts-with"):
        raise Refusal(400, "InvalidPolicyDocument", f"Invalid Policy: unknown operator {operator}")
    return {name}


def check_expiry(query: Mapping[str, str], now: datetime | None = None) -> None:
    """A presigned GET is refused once X-Amz-Expires seconds have passed since X-Amz-Date."""
    try:
        signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        lifetime = int(query["X-Amz-Expires"])
    except (KeyError, ValueError):
        raise Refusal(
            403, "AccessDenied", "Query-string authentication requires X-Amz-Date and X-Amz-Expires"
        ) from None
    if ((now or datetime.now(UTC)) - signed).total_seconds() > lifetime:
        raise Refusal(403, "AccessDenied", "Request has expired")


# ---------------------------------------------------------------- CORS


def cors_rule(
    bucket: Bucket | None, origin: str, method: str, headers: Sequence[str]
) -> dict[str, Any] | None:
    """The bucket's first CORS rule allowing this origin, method and request headers (S3's order)."""
    if bucket is None:
        return None
    for rule in bucket.cors_rules:
        origins = [str(o) for o in rule.get("AllowedOrigins", [])]
        if not any(o in ("*", origin) for o in origins):
            continue
        if method.upper() not in [str(m).upper() for m in rule.get("AllowedMethods", [])]:
            continue
        allowed = [str(h).lower() for h in rule.get("AllowedHeaders", [])]
        if all("*" in allowed or h.lower() in allowed for h in headers if h):
            return dict(rule)
    return None


def cors_headers(
    rule: Mapping[str, Any], origin: str, preflight: bool, request_headers: str = ""
) -> dict[str, str]:
    origins = [str(o) for o in rule.get("AllowedOrigins", [])]
    answer = {
        "Access-Control-Allow-Origin": "*" if origins == ["*"] else origin,
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if rule.get("ExposedHeaders"):
        answer["Access-Control-Expose-Headers"] = ", ".join(str(h) for h in rule["ExposedHeaders"])
    if preflight:
        answer["Access-Control-Allow-Methods"] = ", ".join(str(m) for m in rule.get("AllowedMethods", []))
        if request_headers:
            answer["Access-Control-Allow-Headers"] = request_headers
        if rule.get("MaxAge") is not None:
            answer["Access-Control-Max-Age"] = str(rule["MaxAge"])
    return answer


# ---------------------------------------------------------------- the server


class S3Gateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        moto_url: str,
        buckets: Mapping[str, Bucket],
        policies: Mapping[str, Sequence[Statement]] | None = None,
        host: str = "127.0.0.1",
    ):
        super().__init__((host, 0), _Handler)
        self.moto = urlsplit(moto_url)
        self.policies = dict(policies or {})  # signer's access key id -> its function's policy
        self.buckets = {bucket.name: bucket for bucket in buckets.values()}
        self.lock = threading.Lock()
        # form POSTs are stored and tagged one at a time: the version tagged is the one just stored
        self.form_lock = threading.Lock()
        self.bytes_in = 0  # request bodies passed to moto (files included)
        self.bytes_out = 0  # response bodies passed back
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="s3-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def tag_latest(self, bucket: str, key: str, tags: list[dict[str, str]]) -> dict[str, str]:
        """Tag the object's latest version (the one a form POST just stored); the headers S3 answers
        that POST with: its version's id in a versioned bucket."""
        client = boto_client("s3", urlunsplit(self.moto))
        version = client.head_object(Bucket=bucket, Key=key).get("VersionId")
        named = {"VersionId": version} if version and version != "null" else {}
        client.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags}, **named)
        return {"x-amz-version-id": version} if named else {}

    def count(self, sent: int, received: int) -> None:
        with self.lock:
            self.bytes_in += sent
            self.bytes_out += received


class _Handler(BaseHTTPRequestHandler):
    server: S3Gateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _bucket(self) -> Bucket | None:
        name = urlsplit(self.path).path.lstrip("/").split("/", 1)[0]
        return self.server.buckets.get(name)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _cors(self) -> dict[str, str]:
        origin = self.headers.get("Origin")
        if not origin:
            return {}
        rule = cors_rule(self._bucket(), origin, self.command, [])
        return cors_headers(rule, origin, preflight=False) if rule else {}

    def _refuse(self, refusal: Refusal) -> None:
        body = error_xml(refusal.code, refusal.message, urlsplit(self.path).path)
        self._send(refusal.status, body, {"Content-Type": "application/xml", **self._cors()})

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin", "")
        method = self.headers.get("Access-Control-Request-Method", "")
        requested = self.headers.get("Access-Control-Request-Headers", "")
        headers = [h.strip() for h in requested.split(",") if h.strip()]
        rule = cors_rule(self._bucket(), origin, method, headers) if origin and method else None
        if rule is None:
            self._refuse(Refusal(403, "AccessForbidden", "CORSResponse: This CORS request is not allowed."))
            return
        self._send(200, b"", cors_headers(rule, origin, preflight=True, request_headers=requested))

    def _body(self) -> bytes | None:
        """The request's body, or None once a Content-Length that is no length is refused, as S3 does."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._refuse(Refusal(400, "InvalidArgument", "Content-Length is not a length"))
            return None
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        body = self._body()
        if body is None:
            return
        path = urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "")
        bucket = self._bucket()
        is_form = content_type.lower().startswith("multipart/form-data")
        stored: Callable[[], dict[str, str]] | None = None
        if bucket is not None and is_form and path.path.strip("/") == bucket.name:
            try:
                fields, data = form_fields(content_type, body)
                check_post(bucket.name, fields, data, datetime.now(UTC), self.server.policies)
            except Refusal as refusal:
                self._refuse(refusal)
                return
            if "tagging" in fields:  # moto drops a form's `tagging` field: S3 tags the object with it
                tags = tag_set(fields["tagging"])
                stored = lambda: self.server.tag_latest(bucket.name, fields["key"], tags)  # noqa: E731
            with self.server.form_lock:
                self._forward(body, stored)
            return
        self._forward(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path)
        query = dict(parse_qsl(path.query))
        bucket = self._bucket()
        if bucket is not None and "X-Amz-Credential" in query:  # a presigned GET
            key = unquote(path.path.lstrip("/").split("/", 1)[-1])
            action = "s3:GetObjectVersion" if "versionId" in query else "s3:GetObject"
            try:
                check_expiry(query)
                check_signer(self.server.policies, query["X-Amz-Credential"], action, bucket.name, key)
            except Refusal as refusal:
                self._refuse(refusal)
                return
        self._forward(b"")

    def do_HEAD(self) -> None:
        self._forward(b"")

    def do_PUT(self) -> None:
        body = self._body()
        if body is not None:
            self._forward(body)

    def do_DELETE(self) -> None:
        body = self._body()
        if body is not None:
            self._forward(body)

    def _forward(self, body: bytes, stored: Callable[[], dict[str, str]] | None = None) -> None:
        moto = self.server.moto
        connection = http.client.HTTPConnection(moto.hostname or "127.0.0.1", moto.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        self.server.count(len(body), len(payload))
        answer = {
            k: v
            for k, v in response.getheaders()
            if k.lower() not in _HOP_HEADERS and not k.lower().startswith("access-control-")
        }
        if stored is not None and response.status < 300:
            answer.update(stored())
        answer.update(self._cors())
        self.send_response(response.status)
        for name, value in answer.items():
            self.send_header(name, value)
        # HEAD answers carry the object's length without a body
        self.send_header("Content-Length", response.getheader("Content-Length") or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
