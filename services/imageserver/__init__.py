"""The IIIF Image API 3.0 (and 2.1) server: its own process, tiles from pyramidal TIFFs in S3.

``main(settings)`` in :mod:`services.imageserver.server` serves until SIGTERM. Other services
need only :func:`shared.buckets.derivative_key` (where the pyramid lives).
"""
