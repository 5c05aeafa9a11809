"""What changed between two versions of a pack (`config diff`, the catalog site, deploy checks)."""
