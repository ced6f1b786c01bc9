"""Pydantic models: request and response bodies, stored records, the component catalogue."""
