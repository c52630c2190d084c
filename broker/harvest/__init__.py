"""Harvesting: the source catalogue (config.toml's and the Sources page's), running a
harvest or an import, each source's health and back-off, and the Sources pages."""
