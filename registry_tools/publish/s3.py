"""Publish a dist to S3: archives and signatures create-only (IfNoneMatch), the index last.

Archives are immutable (long cache); the index is short-lived. An existing
object with the same SHA-256 (stored as object metadata) is skipped; one with
different content is an error. A published index is never replaced by a
lower serial.
"""

from __future__ import annotations

from pathlib import Path

from registry_tools.dist.layout import INDEX_JSON
from registry_tools.publish.common import check_serial, plan
from registry_tools.publish.interface import PublishError, PublishReport


def parse_s3_url(url: str) -> tuple[str, str]:
    bucket, _, prefix = url[5:].partition("/")
    if not url.startswith("s3://") or not bucket:
        raise PublishError(f"not an S3 location: {url!r} (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


class S3Publisher:
    def __init__(self, url: str, client=None, *, profile: str | None = None):
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = url
        if client is None:
            import boto3
            from botocore.exceptions import ProfileNotFound

            try:
                client = boto3.Session(profile_name=profile).client("s3")
            except ProfileNotFound as exc:
                from registry_tools.aws.adapter import no_profile

                raise PublishError(no_profile(exc.kwargs.get("profile"))) from None
        self.s3 = client

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _error(self, exc) -> str:
        error = getattr(exc, "response", {}).get("Error", {})
        return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', str(exc))}"

    def _get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise PublishError(f"s3://{self.bucket}/{key}: {self._error(exc)}") from None

    def publish(self, dist: Path) -> PublishReport:
        from botocore.exceptions import BotoCoreError, ClientError

        artifacts, index = plan(dist)
        report = PublishReport(target=self.url)
        try:
            check_serial(Path(dist) / INDEX_JSON, self._get(self._key(INDEX_JSON)), self.url)
            for upload in artifacts:
                key, digest = self._key(upload.key), upload.sha256()
                try:
                    self.s3.put_object(Bucket=self.bucket, Key=key, Body=upload.path.read_bytes(),
                                       ContentType=upload.content_type, CacheControl=upload.cache_control,
                                       Metadata={"sha256": digest}, IfNoneMatch="*")
                    report.uploaded.append(upload.key)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                        raise
                    existing = self.s3.head_object(Bucket=self.bucket, Key=key).get("Metadata", {}).get("sha256")
                    if existing != digest:
                        raise PublishError(f"s3://{self.bucket}/{key} exists with different content "
                                           f"(sha256 {existing or 'unknown'} != {digest}); published files are never overwritten") from None
                    report.skipped.append(upload.key)
            for upload in index:
                self.s3.put_object(Bucket=self.bucket, Key=self._key(upload.key), Body=upload.path.read_bytes(),
                                   ContentType=upload.content_type, CacheControl=upload.cache_control,
                                   Metadata={"sha256": upload.sha256()})
                report.uploaded.append(upload.key)
        except ClientError as exc:
            raise PublishError(f"{self.url}: {self._error(exc)}") from None
        except BotoCoreError as exc:
            raise PublishError(f"{self.url}: {exc}") from None
        return report
