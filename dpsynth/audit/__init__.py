"""dpsynth.audit."""
