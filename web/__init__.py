"""The composition root: the aiohttp app (pages, REST, static files, Socket.IO) and the CLI."""
