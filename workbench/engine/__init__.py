"""The front's side of the engine: where it is (endpoint), one connection (client), the app's
lasting link with its subscribers (link), and the lists every screen chooses from (catalog).
Torch-free: the app and the CLI both use it."""
