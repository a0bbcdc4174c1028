"""Request handlers, one module per domain; each exports handlers() for the server."""
