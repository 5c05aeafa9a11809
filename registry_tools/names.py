"""The names users choose, with nothing imported: what `config registries add` accepts as a registry
name (``client.settings``), which is also the only value the fast paths take for ``--registry``
(``cli.options``)."""

REGISTRY_NAME = r"[a-z][a-z0-9_-]{0,39}"
