"""Tests of the Rental Wi-Fi Home Assistant integration against the real sidecar."""
