"""`bzagg demo`: a simulated province through the real pipeline."""
