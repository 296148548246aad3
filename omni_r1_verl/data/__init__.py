"""Data pipeline: converters, ground-truth store, clip sampling, media loading, synthetic data, verl dataset."""
