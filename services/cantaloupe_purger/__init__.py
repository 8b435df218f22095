"""Empties Cantaloupe's cache of an asset when the media service announces a change to it.

Runs beside each Cantaloupe instance (``python -m services.cantaloupe_purger``) when Cantaloupe
replaces the Disan image server; see README.md.
"""
