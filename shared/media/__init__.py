"""The upload contract media and the gateway both decide with: formats, limits, refusals,
sniffing and uploader metadata. Pure code; the bytes themselves are media's (ADR 0056)."""
