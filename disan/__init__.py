"""The composition root: the ``disan`` command, the local stack and the service registry.

The kernel (``shared/``) never imports services; this package is where they are put together.
"""
