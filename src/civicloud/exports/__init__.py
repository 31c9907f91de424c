"""Document formats made from billing data: Factur-X today."""
