"""Tests of the local runner (local/): template resolution, routing, and the running stack."""
