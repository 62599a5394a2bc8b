"""IVIg prescribing audit against the AAN 2012 neuromuscular guideline."""
