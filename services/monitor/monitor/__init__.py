"""The monitor service: a monitoring pass every interval (housing.monitor), its latest summary
and report over HTTP (reached through the gateway), its figures as Prometheus gauges."""
