"""Cross-cutting helpers with no domain knowledge (the lowest layer: imports no app)."""
