"""Which publisher a destination names, chosen without click.

``publisher_for(destination, options)`` reads the destination of ``registry publish --to``:

    github:OWNER/NAME, or github with options.repo   GitHub Releases (token: options.github_token)
    s3://bucket/prefix                               S3, create-only (options.aws_profile)
    anything else without "://"                      a local directory (mirrors)

A destination that names none of these, or options that do not fit it, is a ``DestinationError``
(a ``PublishError``, exit code 2 like click's usage errors) naming the value and what to give
instead; a missing GitHub token, or a repository or API URL the GitHub publisher refuses, is a plain
``PublishError``. Nothing is uploaded or created here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from registry_tools.publish.interface import Publisher, PublishError

GITHUB = "github"
GITHUB_PREFIX = "github:"
S3_PREFIX = "s3://"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DESTINATIONS = "github:OWNER/NAME (or github with --repo), s3://bucket/prefix, or a local directory"


class DestinationError(PublishError):
    """A publish destination (or option) that names no publisher; exit code 2, like a usage error."""

    exit_code = 2


@dataclass(frozen=True)
class PublishOptions:
    """What the publishers need beyond the destination; each applies to one kind of destination."""

    repo: str | None = None  # GitHub: OWNER/NAME, with the destination "github"
    github_token: str | None = field(default=None, repr=False)  # GitHub: contents: write on the repository
    github_api_url: str = DEFAULT_GITHUB_API_URL  # GitHub Enterprise: https://HOST/api/v3
    aws_profile: str | None = None  # S3


def publisher_for(destination: str, options: PublishOptions | None = None) -> Publisher:
    """The publisher for *destination*; ``DestinationError`` when it names none or *options* do not fit it."""
    options = options or PublishOptions()
    if destination == GITHUB or destination.startswith(GITHUB_PREFIX):
        return _github(destination, options)
    if options.repo is not None:
        raise DestinationError(f"--repo {options.repo} only applies to GitHub; the destination is {destination!r} "
                               f"(publish to GitHub with --to {GITHUB_PREFIX}{options.repo})")
    if destination.startswith(S3_PREFIX):
        from registry_tools.publish.s3 import S3Publisher, parse_s3_url

        try:
            parse_s3_url(destination)
        except PublishError as exc:
            raise DestinationError(str(exc)) from None
        return S3Publisher(destination, profile=options.aws_profile)
    if not destination.strip() or "://" in destination:
        raise DestinationError(f"unsupported publish destination {destination!r}: use {DESTINATIONS}")
    target = Path(destination)
    if target.exists() and not target.is_dir():
        raise DestinationError(f"publish destination {destination} exists and is not a directory: use a directory "
                               "(it is created when missing), s3://bucket/prefix or github:OWNER/NAME")
    from registry_tools.publish.local import LocalPublisher

    return LocalPublisher(target)


def _github(destination: str, options: PublishOptions) -> Publisher:
    named = destination[len(GITHUB_PREFIX):] if destination.startswith(GITHUB_PREFIX) else None
    if named is not None and options.repo is not None and options.repo != named:
        raise DestinationError(f"--to {destination} and --repo {options.repo} name different repositories; "
                               "give the repository once")
    repo = named if named is not None else options.repo
    if not repo:
        raise DestinationError(f"--to {destination} needs the repository: --to {GITHUB_PREFIX}OWNER/NAME "
                               f"or --to {GITHUB} --repo OWNER/NAME")
    if not options.github_token:
        raise PublishError(f"publishing to GitHub ({repo}) needs a token in the GITHUB_TOKEN environment variable "
                           "(with contents: write on the repository)")
    from registry_tools.publish.github import GitHubPublisher

    return GitHubPublisher(repo, options.github_token, api_url=options.github_api_url)
