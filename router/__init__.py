"""The thinkgate service: HTTP API, pipeline, upstream calls, streaming, ledger, CLI."""
