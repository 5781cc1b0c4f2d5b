"""dpsynth.synthesizers."""
