"""Disan's shared kernel: config, events, outbox, reliable consumers, storage, metrics, logging.

psycopg 3 must use a selector-based wait function or it blocks the eventlet hub; the variable is
read when psycopg is first imported, so it is set here, before any module of ours imports it.
"""

import os

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
