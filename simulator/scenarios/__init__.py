"""Scenario files shipped with the package (data: `speedledger sim scenarios` lists them)."""
