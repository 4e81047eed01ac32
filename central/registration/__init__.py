"""Registration: owners (personal data crypto-shredded on erasure) and vehicles with ownership history."""
