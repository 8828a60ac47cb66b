"""Multiple choice: SWAG (a context and four possible endings)."""
