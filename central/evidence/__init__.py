"""Evidence that stands in court: signed export bundles and their offline check, notices of infraction, CSV."""
