"""The HTTP edge: Lambda's REST API, CloudWatch Logs' JSON API and lamina's own routes."""

from lamina.api.app import LaminaApp, Services

__all__ = ["LaminaApp", "Services"]
