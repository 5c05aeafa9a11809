"""The built registry: its file layout, reading a dist directory, and the index model."""
