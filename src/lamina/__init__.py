"""lamina: a self-hosted serverless function platform that speaks AWS Lambda's API."""

__version__ = "0.1.0"
