"""The services of the platform, in start order: the one list that names them.

``disan service run NAME``, ``disan up`` (supervisord programs, migrations, queues), compose and
the Helm chart (checked by tests) all follow this list. Targets are strings, imported only when a
service is run or its handlers' queues are declared.
"""

from __future__ import annotations

from shared.runner import ROOT, ServiceSpec

__all__ = ["ROOT", "SERVICES", "ServiceSpec"]

# Each later issue adds its own.
SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("access", "services.access.service:AccessService", schema="access"),
        ServiceSpec("catalogue", "services.catalogue.service:CatalogueService", schema="catalogue"),
        ServiceSpec("media", "services.media.service:MediaService", schema="media"),
        ServiceSpec("iiif", "services.iiif.service:IiifService", schema="iiif"),
        ServiceSpec(
            "notifications",
            "services.notifications.service:NotificationsService",
            schema="notifications",
        ),
        ServiceSpec("gateway", "services.gateway.service:GatewayService", http=True),
        ServiceSpec("imageserver", "services.imageserver.server:main", kind="process"),
    )
}
