"""Hypothesis profiles: `deep` (make test-deep) runs the differential properties on many more documents."""

from hypothesis import settings

settings.register_profile("deep", max_examples=20000, deadline=None)
