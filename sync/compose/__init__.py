"""Pure naming logic: composition, normalisation, collisions. No I/O, no clock (STYLE.md 4)."""
