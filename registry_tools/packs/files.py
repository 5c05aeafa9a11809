"""The files of a pack version directory (no imports: installs check them without the loader)."""

PACK_FILE = "domain.yaml"
TEMPLATE_FILE = "cloudformation.json"
README_FILE = "README.md"
