"""Event contracts of every service, one module per producer (``shared/contracts/<service>.py``).

Importing this package registers every contract it lists, so a consumer can load any event.
"""

from shared.contracts import access, catalogue, iiif, media, notifications

__all__ = ["access", "catalogue", "iiif", "media", "notifications"]
