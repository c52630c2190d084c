"""Running the broker: the scheduler and its jobs, the scheduler's own process, the demo,
and what every command shares. Runtime composes the features; no feature service
imports it."""
