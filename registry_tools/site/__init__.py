"""The static catalog site: a mkdocs-material project generated from a built registry (``registry.json``)."""

from registry_tools.site.generator import SiteError, SiteResult, build_site, generate_project

__all__ = ["SiteError", "SiteResult", "build_site", "generate_project"]
