"""The thinkgate service, where all I/O lives: the gateway (HTTP API, upstream calls, streaming,
ledger, metrics, dashboard), the CLI, and the replay upstream and demo as sub-packages."""
