"""Publish a dist into a local directory (mirrors, air-gapped sites, the sandbox demo)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from registry_tools.dist.layout import INDEX_JSON
from registry_tools.fsutil import atomic_write_bytes
from registry_tools.publish.common import check_serial, plan
from registry_tools.publish.interface import PublishError, PublishReport


class LocalPublisher:
    def __init__(self, target: Path):
        self.target = Path(target)

    def publish(self, dist: Path) -> PublishReport:
        artifacts, index = plan(dist)
        report = PublishReport(target=str(self.target))
        existing_index = self.target / INDEX_JSON
        check_serial(Path(dist) / INDEX_JSON, existing_index.read_bytes() if existing_index.is_file() else None, str(self.target))
        for upload in artifacts:
            destination = self.target / upload.key
            data = upload.path.read_bytes()
            if destination.exists():
                if hashlib.sha256(destination.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest():
                    report.skipped.append(upload.key)
                    continue
                raise PublishError(f"{destination} exists with different content; published files are never overwritten")
            atomic_write_bytes(destination, data)
            report.uploaded.append(upload.key)
        for upload in index:
            atomic_write_bytes(self.target / upload.key, upload.path.read_bytes())
            report.uploaded.append(upload.key)
        return report
