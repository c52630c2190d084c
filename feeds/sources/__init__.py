"""One harvester per tender source; `feeds.REGISTRY` lists them."""
