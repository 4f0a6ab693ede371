"""The union catalogue service: catalogue store, pipeline, search engines, API and CLI."""
