"""Per-invocation billing figures, computed as AWS Lambda bills."""

from lamina.billing.meter import billed_duration_ms, billed_restore_ms, gb_seconds

__all__ = ["billed_duration_ms", "billed_restore_ms", "gb_seconds"]
