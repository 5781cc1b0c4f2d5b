"""dpsynth.pgm."""
