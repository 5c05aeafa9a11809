"""The static catalog site: a mkdocs-material project generated from a built registry (``registry.json``).

``build.build_site`` is the entry point (``registry site``); the other modules
are named by what they produce: ``home`` (counts), ``catalog_page``,
``pack_pages`` (stamped pack pages and their search entries) from
``pack_sections`` (a pack page's HTML), ``readme`` and ``version_changes``;
``views`` picks the index entries that get a page, ``html`` escapes.
"""
