"""Shared setup for the training-engine tests (no database, no Django)."""

import os

# Quiet TensorFlow's C++ logging before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
