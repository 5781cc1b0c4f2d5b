"""dpsynth.marginals."""
