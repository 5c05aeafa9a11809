"""AWS Research Wizard: versioned AWS research environments ("domain packs").

The import package is ``registry_tools``. Keep this module free of imports:
the CLI's ``--help`` must stay instant.
"""

__version__ = "0.1.0"
