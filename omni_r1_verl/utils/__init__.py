"""Small pure helpers shared by several subsystems (no verl, no Ray)."""
