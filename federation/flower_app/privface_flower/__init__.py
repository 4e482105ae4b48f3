"""PrivFace's Flower app: the components live in ``federation.engine``."""
